-- Tags in force on the day: how many users hold each, how many hold it who did not
-- the day before, and how many held it the day before and no longer do (opt-outs,
-- unsubscribes, expiry).
-- Run: kefu sql sql/day_tags.sql
WITH today AS (SELECT openid, tag FROM tags WHERE dt = getvariable('report_date')),
yesterday AS (SELECT openid, tag FROM tags WHERE dt = getvariable('report_date') - INTERVAL 1 DAY),
tag_names AS (SELECT tag FROM today UNION SELECT tag FROM yesterday)
SELECT n.tag,
    (SELECT count(*) FROM today t WHERE t.tag = n.tag) AS users,
    (SELECT count(*) FROM (SELECT openid FROM today t WHERE t.tag = n.tag
                           EXCEPT SELECT openid FROM yesterday y WHERE y.tag = n.tag)) AS gained,
    (SELECT count(*) FROM (SELECT openid FROM yesterday y WHERE y.tag = n.tag
                           EXCEPT SELECT openid FROM today t WHERE t.tag = n.tag)) AS lost
FROM tag_names n
ORDER BY users DESC, n.tag;
