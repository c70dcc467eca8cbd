-- One row per country: how many users signed up, and when the first one did.
SELECT
    upper(trim(country)) AS country,
    count(*) AS signups,
    min(CAST(signed_up_at AS TIMESTAMP)) AS first_signup
FROM raw.signups
WHERE country IS NOT NULL
GROUP BY upper(trim(country))
