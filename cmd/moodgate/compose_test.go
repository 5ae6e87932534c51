package main

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/moodgate/moodgate/gateway"
)

// envRead lists every environment variable the configuration reads.
func envRead(t *testing.T) []string {
	var keys []string
	if _, err := gateway.FromEnv(func(k string) (string, bool) {
		keys = append(keys, k)
		return "", false
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	return keys
}

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     any               `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// TestComposeFile parses docker-compose.yml (Docker cannot run here) and
// checks it against the code: the gateway's environment names only variables
// the configuration reads and sets the ones production needs; Redis keeps an
// AOF; a one-shot job builds the emotion model from our Modelfile.
func TestComposeFile(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	read := map[string]bool{}
	for _, k := range envRead(t) {
		read[k] = true
	}
	gw, ok := c.Services["gateway"]
	if !ok {
		t.Fatal("no gateway service")
	}
	for k := range gw.Environment {
		if !read[k] {
			t.Errorf("gateway sets %s, which the code never reads", k)
		}
	}
	for _, k := range []string{"REDIS_URL", "OLLAMA_HOST", "MOODGATE_SECRET", "MOODGATE_EMOTION_MODEL", "MOODGATE_CHAT_MODEL", "MOODGATE_OPERATOR_TOKENS", "MOODGATE_ADDR"} {
		if _, ok := gw.Environment[k]; !ok {
			t.Errorf("gateway does not set %s", k)
		}
	}
	if !strings.HasPrefix(gw.Environment["REDIS_URL"], "redis://redis:") || !strings.HasPrefix(gw.Environment["OLLAMA_HOST"], "http://ollama:") {
		t.Errorf("gateway does not point at the redis and ollama services: %v", gw.Environment)
	}
	if len(gw.Healthcheck.Test) < 3 || gw.Healthcheck.Test[2] != "healthcheck" {
		t.Errorf("gateway healthcheck %v", gw.Healthcheck.Test)
	} else if _, ok := commands[gw.Healthcheck.Test[2]]; !ok {
		t.Errorf("healthcheck command %q is not a moodgate command", gw.Healthcheck.Test[2])
	}
	redis := c.Services["redis"]
	if !strings.Contains(strings.Join(toStrings(redis.Command), " "), "--appendonly yes") {
		t.Errorf("redis must run with AOF: %v", redis.Command)
	}
	job, ok := c.Services["ollama-create"]
	if !ok {
		t.Fatal("no ollama-create job")
	}
	cmd := strings.Join(toStrings(job.Command), " ")
	if !regexp.MustCompile(`ollama create moodgate-emotion .*-f /work/Modelfile`).MatchString(cmd) {
		t.Errorf("ollama-create does not build from the Modelfile: %q", cmd)
	}
	if !strings.Contains(strings.Join(job.Volumes, " "), "./Modelfile:") {
		t.Errorf("ollama-create does not mount ./Modelfile: %v", job.Volumes)
	}
	if _, err := os.Stat("../../Modelfile"); err != nil {
		t.Errorf("Modelfile: %v", err)
	}
	if gw.Environment["MOODGATE_EMOTION_MODEL"] != "moodgate-emotion" {
		t.Errorf("gateway emotion model %q differs from the model the job creates", gw.Environment["MOODGATE_EMOTION_MODEL"])
	}
}

func toStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// TestReadmeListsEveryVariable keeps the README's configuration table in
// step with the code.
func TestReadmeListsEveryVariable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range envRead(t) {
		if !strings.Contains(string(b), "| `"+k+"`") {
			t.Errorf("README.md's configuration table lacks %s", k)
		}
	}
}
