package main

import (
	"testing"

	"github.com/flowhawk/flowhawk/export/stream"
)

// TestNATSAuthFromEnv checks that NATS credentials come from the
// environment and --nats-creds, so none has to stand in the --nats URL.
func TestNATSAuthFromEnv(t *testing.T) {
	env := map[string]string{"FLOWHAWK_NATS_USER": "sensor", "FLOWHAWK_NATS_PASSWORD": "pw", "FLOWHAWK_NATS_TOKEN": "tok"}
	var sc stream.Config
	natsAuth(&sc, func(k string) string { return env[k] }, "/etc/flowhawk/nats.creds")
	if sc.User != "sensor" || sc.Password != "pw" || sc.Token != "tok" || sc.CredsFile != "/etc/flowhawk/nats.creds" {
		t.Errorf("config %+v, want the environment's user, password and token and the creds file", sc)
	}
}
