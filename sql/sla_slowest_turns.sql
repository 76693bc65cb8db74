-- Which customers waited longest yesterday? The slowest answered turns of the latest
-- day, with who answered and what the customer had asked.
-- Run: kefu sql sql/sla_slowest_turns.sql
SELECT
    t.dt,
    t.agent,
    t.reply_s,
    t.business_reply_s,
    t.openid,
    (SELECT e.text FROM events e
      WHERE e.openid = t.openid AND e.ts = t.first_user_ts AND e.role = 'user'
      LIMIT 1)                                   AS question
FROM turns t
WHERE t.answered_by = 'agent'
  AND t.dt = (SELECT max(dt) FROM turns)
ORDER BY t.reply_s DESC
LIMIT 20;
