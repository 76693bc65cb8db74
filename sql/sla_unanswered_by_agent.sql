-- Which customers did each agent leave unanswered? Sessions an agent took (first or by
-- transfer) that still hold turns nobody answered.
-- Run: kefu sql sql/sla_unanswered_by_agent.sql
SELECT
    a.taken_by AS agent,
    s.dt,
    s.openid,
    s.session_id,
    s.unanswered,
    s.window_breach
FROM sessions s, unnest(s.agents) AS a(taken_by)
WHERE s.unanswered > 0
ORDER BY a.taken_by, s.dt DESC, s.openid;
