-- Who fell out of WeChat's 48-hour window? Every breached turn: the customer got no
-- agent or bot reply within 48 hours of their last message and can no longer be
-- messaged. Censored turns (window still open at the data end) are not listed.
-- Run: kefu sql sql/sla_window_breaches.sql
SELECT
    dt,
    openid,
    session_id,
    answered_by,
    CAST(first_user_ts AS TIMESTAMP) AS first_user_utc,
    CAST(last_user_ts AS TIMESTAMP)  AS last_user_utc,
    CAST(reply_ts AS TIMESTAMP)      AS reply_utc
FROM turns
WHERE breach
ORDER BY dt DESC, last_user_ts;
