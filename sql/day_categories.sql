-- The day's customer messages by taxonomy category (pipelines/rules/topics.toml),
-- with the trend against the previous week.
-- Run: kefu sql sql/day_categories.sql
SELECT category, count, users, round(trend, 2) AS trend, rising
FROM topics
WHERE dt = getvariable('report_date') AND term IS NULL
ORDER BY count DESC, category;
