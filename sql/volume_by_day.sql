-- How many messages came in and went out each local day, and from how many users?
-- Run: kefu sql sql/volume_by_day.sql
SELECT
    dt,
    count(*) FILTER (WHERE role = 'user')   AS user_messages,
    count(*) FILTER (WHERE role = 'agent')  AS agent_messages,
    count(*) FILTER (WHERE role = 'bot')    AS bot_messages,
    count(DISTINCT openid) FILTER (WHERE role = 'user') AS users
FROM events
GROUP BY dt
ORDER BY dt
