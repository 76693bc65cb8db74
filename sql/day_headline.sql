-- The day at a glance, against the mean of the 7 days before it: customer messages
-- and users, sessions, turns, first-response and reply percentiles, the share answered
-- within target, unanswered turns, 48-hour window breaches, QA flags.
-- The day is the `report_date` variable (default: the latest day with events).
-- Run: kefu sql sql/day_headline.sql   (another day: kefu sql --date 2026-10-20 …)
WITH days AS (
    SELECT d::DATE AS dt, d::DATE = getvariable('report_date') AS is_day
    FROM range(getvariable('report_date') - INTERVAL 7 DAY, getvariable('report_date') + INTERVAL 1 DAY, INTERVAL 1 DAY) AS r(d)
),
messages AS (
    SELECT dt, count(*) AS user_messages, count(DISTINCT openid) AS users
    FROM events
    WHERE role = 'user'
      AND dt BETWEEN getvariable('report_date') - INTERVAL 7 DAY AND getvariable('report_date')
    GROUP BY dt
),
sla AS (
    SELECT * FROM sla_daily WHERE agent IS NULL
      AND dt BETWEEN getvariable('report_date') - INTERVAL 7 DAY AND getvariable('report_date')
),
flags AS (
    SELECT dt, count(*) AS qa_flags FROM qa_flags
    WHERE verdict IS DISTINCT FROM 'false_positive'
      AND dt BETWEEN getvariable('report_date') - INTERVAL 7 DAY AND getvariable('report_date')
    GROUP BY dt
),
per_day AS (
    SELECT days.dt, is_day,
        coalesce(m.user_messages, 0) AS user_messages, coalesce(m.users, 0) AS users,
        s.sessions, s.turns, s.first_response_p50_s, s.first_response_p90_s,
        s.reply_p50_s, s.reply_p90_s, s.within_target_ratio,
        s.first_response_within_target_ratio, s.unanswered, s.window_breaches,
        coalesce(f.qa_flags, 0) AS qa_flags
    FROM days
    LEFT JOIN messages m USING (dt) LEFT JOIN sla s USING (dt) LEFT JOIN flags f USING (dt)
)
SELECT
    CASE WHEN is_day THEN 'day' ELSE 'previous_7_days_mean' END AS period,
    round(avg(user_messages), 1) AS user_messages,
    round(avg(users), 1) AS users,
    round(avg(sessions), 1) AS sessions,
    round(avg(turns), 1) AS turns,
    round(avg(first_response_p50_s), 1) AS first_response_p50_s,
    round(avg(first_response_p90_s), 1) AS first_response_p90_s,
    round(avg(reply_p50_s), 1) AS reply_p50_s,
    round(avg(reply_p90_s), 1) AS reply_p90_s,
    round(avg(within_target_ratio), 3) AS within_target_ratio,
    round(avg(first_response_within_target_ratio), 3) AS first_response_within_target_ratio,
    round(avg(unanswered), 1) AS unanswered,
    round(avg(window_breaches), 1) AS window_breaches,
    round(avg(qa_flags), 1) AS qa_flags
FROM per_day
GROUP BY is_day
ORDER BY is_day DESC;
