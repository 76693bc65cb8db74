-- The day's most asked questions, near-identical wordings grouped.
-- Run: kefu sql sql/day_top_questions.sql
SELECT example, count, users, coalesce(category, '') AS category
FROM top_questions
WHERE dt = getvariable('report_date')
ORDER BY count DESC, example
LIMIT 10;
