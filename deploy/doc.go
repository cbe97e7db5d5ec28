// Package deploy holds no code: its tests check the deployment files beside
// it.
//
//   - kubernetes/: Deployment, Service, HorizontalPodAutoscaler,
//     PodDisruptionBudget, NetworkPolicies, and the Redis side (Secret,
//     StatefulSet, import Job); the tests decode every manifest strictly into
//     the k8s.io/api types (unknown fields fail), run kube-score (no critical
//     finding), and check probes, the drain budget, the security context, the
//     scrape annotations, how the store URL and password reach the pods, and
//     who may reach Redis and the admin port.
//   - local/: the local fleet (Redis, replicas, HAProxy) and its end-to-end
//     tests (package local).
//   - prometheus/: scrape configuration, alert rules and their unit tests; the
//     tests run promtool check config, check rules and test rules (skipped when
//     promtool is not installed).
//   - grafana/: the dashboard; the tests check that every query names a metric
//     the server exposes.
//
// The Dockerfile at the repository root is checked here too.
package deploy
