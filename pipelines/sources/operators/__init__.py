"""Operator history as deployments: Argo CD, Flux, and Argo Rollouts aborts.

Input is what `kubectl get … -o json` (a `List`), `argocd app get -o json` (one object) print,
saved to a file (or a folder of `.json` files). Operators record *config* revisions; each is
translated to the app commit it deployed: a commit of a gitops config repo → the service's image
tag at that commit → the app commit; a commit or version tag of the service's app clone → itself.
One module per operator (`argocd`, `flux`, `rollouts`); what they share is in `common`.
"""

from pipelines.sources.operators.flux import flux_revision
from pipelines.sources.operators.read import read_operator

__all__ = ["flux_revision", "read_operator"]
