package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ytcaption/ytcaption/agent/internal/artifact"
	"github.com/ytcaption/ytcaption/agent/internal/asr"
	"github.com/ytcaption/ytcaption/agent/worker"
	"github.com/ytcaption/ytcaption/control-plane/api"
)

// artifacts checks the artifact cache: that the agent can write it, what
// it holds against its limit, and what the control plane offers that it
// lacks, which it returns. client is nil when the credential could not be
// checked; the comparison is then left out.
func (d doctor) artifacts(ctx context.Context, rep *doctorReport, client *api.Client) []api.AgentArtifact {
	var offered []api.AgentArtifact
	if client != nil {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		l, err := client.AgentArtifacts(cctx)
		cancel()
		if err != nil {
			rep.add("artifacts", statusWarn, fmt.Sprintf("could not list the control plane's artifacts: %v", err), "")
			client = nil
		}
		offered = l.Artifacts
	}
	if d.cfg.ArtifactCacheSize <= 0 {
		if len(offered) > 0 {
			rep.add("artifact cache", statusWarn, fmt.Sprintf("off: the control plane offers %s, which this agent never fetches", names(offered)),
				d.where("artifact_cache_size", "10737418240")+" (bytes; 10 GiB) to fetch them")
			return nil
		}
		rep.add("artifact cache", statusOK, "off (artifact_cache_size 0): pushed models and tools are not fetched", "")
		return nil
	}
	dir := worker.ArtifactDir(d.cfg)
	if err := artifact.Writable(dir); err != nil {
		rep.add("artifact cache", statusFail, err.Error(),
			"let the agent's user write it (packages: `sudo chown -R ytcaption: "+dir+"`), or "+d.where("artifact_dir", ""))
		return nil
	}
	st, err := artifact.Inspect(dir)
	if err != nil {
		rep.add("artifact cache", statusWarn, err.Error(), "remove "+dir+"/index.json: the agent then fetches the artifacts again")
		return nil
	}
	var models, tools []string
	for _, e := range st.Entries {
		held := e.Name + " (" + e.Version + ")"
		if e.Kind == api.ArtifactModel {
			models = append(models, held)
		} else {
			tools = append(tools, held)
		}
	}
	rep.add("artifact cache", statusOK, fmt.Sprintf("%s: %s of %s used; models: %s; tools: %s", dir,
		mib(st.Used), mib(d.cfg.ArtifactCacheSize), orNone(models), orNone(tools)), "")
	if client == nil {
		return nil
	}
	missing := st.Missing(offered)
	if len(missing) == 0 {
		rep.add("artifacts", statusOK, fmt.Sprintf("holds all %d the control plane offers", len(offered)), "")
		return nil
	}
	fix := "start the agent (or wait: a running one fetches new artifacts within " + worker.DefaultArtifactRefresh.String() + ")"
	for _, a := range missing {
		if a.Size > d.cfg.ArtifactCacheSize {
			fix = d.where("artifact_cache_size", "") + fmt.Sprintf(" to at least %d bytes: %s does not fit", a.Size, a.Name)
			break
		}
	}
	rep.add("artifacts", statusWarn, "the control plane offers "+names(missing)+", which this agent does not hold", fix)
	return missing
}

// fetchable turns the failed engines check of a box whose whisper-cpp lacks
// only a model into a warning when the cache will fetch one (missing): the
// agent starts, fetches it, then checks its engines again.
func (d doctor) fetchable(rep *doctorReport, missing []api.AgentArtifact) {
	if d.cfg.Engine != "" && d.cfg.Engine != asr.NameWhisperCpp {
		return
	}
	i := slices.IndexFunc(rep.Checks, func(c doctorCheck) bool { return c.Name == "engines" && c.Status == statusFail })
	w := slices.IndexFunc(rep.Checks, func(c doctorCheck) bool { return c.Name == "engine "+asr.NameWhisperCpp })
	if i < 0 || w < 0 || !strings.Contains(rep.Checks[w].Detail, "no model") {
		return // no failure, or whisper-cpp lacks more than a model
	}
	m := slices.IndexFunc(missing, func(a api.AgentArtifact) bool {
		return a.Kind == api.ArtifactModel && strings.HasPrefix(a.Name, "ggml-") && strings.HasSuffix(a.Name, ".bin")
	})
	if m < 0 {
		return
	}
	c := &rep.Checks[i]
	c.Status = statusWarn
	c.Detail += "; whisper-cpp runs once the agent has fetched " + missing[m].Name
	c.Fix = "start the agent: it fetches " + missing[m].Name + " before its first lease"
}

func names(as []api.AgentArtifact) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Kind + " " + a.Name + " (" + a.Version + ")"
	}
	return strings.Join(out, ", ")
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
