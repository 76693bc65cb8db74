-- How long customers waited for the first human reply on the day: sessions by wait,
-- in bands a manager reads at a glance (the target line is the pipeline's).
-- Run: kefu sql sql/day_first_response.sql
WITH bands(band, label, low_s, high_s) AS (VALUES
    (1, '< 1 min', 0, 60), (2, '1–5 min', 60, 300), (3, '5–15 min', 300, 900),
    (4, '15–30 min', 900, 1800), (5, '30–60 min', 1800, 3600), (6, '1–4 h', 3600, 14400),
    (7, '> 4 h', 14400, NULL), (8, 'no reply', NULL, NULL))
SELECT band, label, low_s, high_s,
    (SELECT count(*) FROM sessions s
     WHERE s.dt = getvariable('report_date') AND s.first_user_ts IS NOT NULL
       AND CASE WHEN band = 8 THEN s.first_response_s IS NULL
                ELSE s.first_response_s >= low_s AND (high_s IS NULL OR s.first_response_s < high_s) END
    ) AS sessions
FROM bands
ORDER BY band;
