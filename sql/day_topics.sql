-- What customers asked about on the day: the best-scored words and every word that
-- rose against its previous week (trend = count / the week's mean − 1).
-- Run: kefu sql sql/day_topics.sql
SELECT term, coalesce(category, '') AS category, count, users, rank,
    round(trend, 2) AS trend, rising
FROM topics
WHERE dt = getvariable('report_date') AND term IS NOT NULL AND (rank <= 15 OR rising)
ORDER BY rising DESC, rank;
