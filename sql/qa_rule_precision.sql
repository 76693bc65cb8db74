-- How often is each QA rule right? Precision measured from the QA team's reviews
-- (pipelines/rules/qa-reviews.csv, carried into qa_flags.verdict), per rule and rules
-- version, so a rule change is judged on the reviews of the flags it made.
-- Run: kefu sql sql/qa_rule_precision.sql
SELECT
    rule_id,
    rules_version,
    count(*)                                          AS flags,
    count(verdict)                                    AS reviewed,
    count(*) FILTER (WHERE verdict = 'confirmed')     AS confirmed,
    count(*) FILTER (WHERE verdict = 'false_positive') AS false_positives,
    round(count(*) FILTER (WHERE verdict = 'confirmed') / nullif(count(verdict), 0), 3)
                                                      AS measured_precision
FROM qa_flags
GROUP BY rule_id, rules_version
ORDER BY rule_id, rules_version;
