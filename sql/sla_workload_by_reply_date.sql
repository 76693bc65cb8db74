-- How much answering was done each day? Turns by the local date of the human reply
-- (turns.reply_dt), not the day the customer asked (turns.dt): Monday's workload
-- includes the questions of the weekend.
-- Run: kefu sql sql/sla_workload_by_reply_date.sql
SELECT
    reply_dt,
    agent,
    count(*)                                   AS turns_answered,
    count(*) FILTER (WHERE reply_dt > dt)      AS from_earlier_days,
    round(quantile_cont(reply_s, 0.5))         AS reply_p50_s
FROM turns
WHERE answered_by = 'agent'
GROUP BY reply_dt, agent
ORDER BY reply_dt DESC, turns_answered DESC;
