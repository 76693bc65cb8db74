-- The day's QA flags to review, most severe first: who wrote what, the span that
-- matched (characters start_char..end_char of text) and the customer message it
-- answered. False positives from the review file are left out.
-- Run: kefu sql sql/day_qa_flags.sql
SELECT agent, rule_id, category, severity, text, matched, start_char, end_char,
    context, coalesce(verdict, '') AS verdict, strftime(local_ts, '%H:%M') AS at
FROM qa_flags
WHERE dt = getvariable('report_date') AND verdict IS DISTINCT FROM 'false_positive'
ORDER BY CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, local_ts;
