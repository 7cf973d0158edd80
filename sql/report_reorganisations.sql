-- Report input: the reorganisations of one team ($team), oldest first, for timeline markers.
-- kind is 'joined' (the team took the service over) or 'left' (it handed the service over);
-- counterpart is the team on the other side of the hand-over, if any.
SELECT date, service, kind, counterpart
FROM reorganisations
WHERE team = $team
ORDER BY date, service, kind
