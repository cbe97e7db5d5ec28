// Package local holds no code: its tests run the local fleet recipe beside
// it (fleet.sh: Redis when the binary has a store flag, three replicas of
// the real binary and HAProxy on loopback) and prove, under open-loop load
// through HAProxy, that a rolling restart loses no request, that a replica
// killed with SIGKILL costs at most a handful of requests and is evicted
// quickly, that hostile request framing is interpreted the same way by
// HAProxy and the engine, and (with a store) that a price written to Redis
// reaches every replica within 100 ms and that demand counts are shared
// across replicas (rules with demand.shared).
//
// The tests are named E2E: `make e2e` runs them with $PRICING_E2E_BINARY;
// without it they build the binary into a temporary directory. They skip
// when haproxy or curl is not installed, and with -short.
package local
