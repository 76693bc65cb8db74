-- Each agent's day: sessions and turns answered, reply percentiles, the share within
-- target, and QA flags by category (false positives left out).
-- Run: kefu sql sql/day_agents.sql
WITH flags AS (
    SELECT agent,
        count(*) AS qa_flags,
        count(*) FILTER (WHERE category = 'promise') AS promise,
        count(*) FILTER (WHERE category = 'rude') AS rude,
        count(*) FILTER (WHERE category = 'absolute') AS absolute,
        count(*) FILTER (WHERE category = 'privacy') AS privacy,
        count(*) FILTER (WHERE category = 'deflection') AS deflection
    FROM qa_flags
    WHERE dt = getvariable('report_date') AND verdict IS DISTINCT FROM 'false_positive'
    GROUP BY agent
)
SELECT s.agent, s.sessions, s.turns, s.reply_p50_s, s.reply_p90_s,
    round(s.within_target_ratio, 3) AS within_target_ratio,
    coalesce(f.qa_flags, 0) AS qa_flags, coalesce(f.promise, 0) AS promise,
    coalesce(f.rude, 0) AS rude, coalesce(f.absolute, 0) AS absolute,
    coalesce(f.privacy, 0) AS privacy, coalesce(f.deflection, 0) AS deflection
FROM sla_daily s LEFT JOIN flags f USING (agent)
WHERE s.dt = getvariable('report_date') AND s.agent IS NOT NULL
ORDER BY s.turns DESC, s.agent;
