-- Report input: the reorganisations of $teams (a list; NULL for every team), oldest first, for
-- timeline markers. kind is 'joined' (the team took the service over) or 'left' (it handed the
-- service over); counterpart is the team on the other side of the hand-over, if any.
SELECT team, date, service, kind, counterpart
FROM reorganisations
WHERE $teams::VARCHAR[] IS NULL OR list_contains($teams::VARCHAR[], team)
ORDER BY team, date, service, kind
