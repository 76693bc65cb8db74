-- How fast did each agent answer, day by day? sla_daily as written by the sla job
-- (agent NULL is everyone), newest day first.
-- Run: kefu sql sql/sla_by_agent.sql
SELECT
    dt,
    coalesce(agent, '(all)') AS agent,
    sessions,
    turns,
    first_response_p50_s,
    reply_p50_s,
    reply_p90_s,
    within_target_ratio,
    first_response_within_target_ratio,
    unanswered,
    window_breaches,
    censored
FROM sla_daily
ORDER BY dt DESC, agent NULLS FIRST;
