package scaletest

import (
	"strings"
	"testing"
)

// TestHealthCheckFollowsGRPCHealth: the template's health check is gRPC health, not a port
// probe. A replica whose Neo4j goes away stays up as a process but turns NOT_SERVING, and
// HAProxy takes it out of rotation.
func TestHealthCheckFollowsGRPCHealth(t *testing.T) {
	haproxy := haproxyBinary(t)
	bins := build(t)
	sim, uri := startSim(t, bins.neo4jsim, 0)
	r := newReplica(t, "r1", bins.cdcstreamd, uri)
	lb := startHAProxy(t, haproxy, []haproxyServer{{Name: r.name, Addr: r.addr}})
	lb.waitUp(t, r.name)
	sim.Kill()
	lb.waitStatus(t, r.name, "DOWN")
	if exited, err := r.proc.Wait(0); exited {
		t.Fatalf("the replica exited (%v); the check proved nothing about health", err)
	}
	if !strings.Contains(r.proc.Log.String(), "NOT_SERVING") {
		t.Fatalf("the replica never reported NOT_SERVING:\n%s", r.proc.Log)
	}
}
