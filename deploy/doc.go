// Package deploy holds no code: its tests check the deployment files beside
// it.
//
//   - kubernetes/: Deployment, Service, HorizontalPodAutoscaler and
//     PodDisruptionBudget; the tests parse them and check probes, the drain
//     budget, the security context and the scrape annotations.
//   - prometheus/: scrape configuration, alert rules and their unit tests; the
//     tests run promtool check config, check rules and test rules (skipped when
//     promtool is not installed).
//   - grafana/: the dashboard; the tests check that every query names a metric
//     the server exposes.
//
// The Dockerfile at the repository root is checked here too.
package deploy
