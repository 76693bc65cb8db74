-- When do customers write? User messages by local hour of day, over the whole dataset.
-- Run: kefu sql sql/volume_by_hour.sql
SELECT
    hour(local_ts) AS hour,
    count(*)       AS user_messages
FROM events
WHERE role = 'user'
GROUP BY 1
ORDER BY 1
