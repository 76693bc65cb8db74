-- Who wrote the replies QA should look at? Flags per agent and category; reviewed
-- false positives stay in qa_flags but leave these counts.
-- Run: kefu sql sql/qa_flags_by_agent.sql
SELECT
    coalesce(agent, '(bot)')                          AS agent,
    count(*) FILTER (WHERE category = 'promise')      AS promise,
    count(*) FILTER (WHERE category = 'rude')         AS rude,
    count(*) FILTER (WHERE category = 'absolute')     AS absolute,
    count(*) FILTER (WHERE category = 'privacy')      AS privacy,
    count(*) FILTER (WHERE category = 'deflection')   AS deflection,
    count(*)                                          AS flags
FROM qa_flags
WHERE verdict IS DISTINCT FROM 'false_positive'
GROUP BY 1
ORDER BY flags DESC, agent;
