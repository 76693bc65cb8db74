-- Customer messages by local hour on the day, beside the mean of the 7 days before.
-- Run: kefu sql sql/day_volume_by_hour.sql
WITH hours AS (SELECT h AS hour FROM range(24) AS r(h)),
counts AS (
    SELECT hour(local_ts) AS hour,
        count(*) FILTER (WHERE dt = getvariable('report_date')) AS messages,
        count(*) FILTER (WHERE dt < getvariable('report_date')) / 7.0 AS previous_7_days_mean
    FROM events
    WHERE role = 'user'
      AND dt BETWEEN getvariable('report_date') - INTERVAL 7 DAY AND getvariable('report_date')
    GROUP BY 1
)
SELECT hour, coalesce(messages, 0) AS messages,
    round(coalesce(previous_7_days_mean, 0), 1) AS previous_7_days_mean
FROM hours LEFT JOIN counts USING (hour)
ORDER BY hour;
