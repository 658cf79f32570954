// Package dashboards builds the Grafana dashboards of ytcaption (API,
// dispatch and fleet, pipeline) with the Grafana Foundation SDK. The JSON
// files beside this package are its output, written by `make dashboards`.
package dashboards

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// latencyExcluded are the routes that hold a request open on purpose
// (long-polls, event streams, media and model transfers, synchronous
// transcription); the latency SLO leaves them out, as the rules do.
const latencyExcluded = `route!~"/v1/agent/lease|/v1/jobs/:id/events|/v1/stats/stream|/v1/audio/transcriptions|/v1/jobs/:id/media|/v1/artifacts|/v1/blobs/.*"`

// Render returns each dashboard's JSON by file name.
func Render() (map[string][]byte, error) {
	out := map[string][]byte{}
	for name, b := range map[string]*dashboard.DashboardBuilder{
		"api.json":      api(),
		"dispatch.json": dispatch(),
		"pipeline.json": pipeline(),
	} {
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("build %s: %w", name, err)
		}
		numberPanels(d.Panels)
		data, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", name, err)
		}
		out[name] = append(data, '\n')
	}
	return out, nil
}

// numberPanels gives every panel and row its own id, in layout order, so
// links to a panel stay put across regenerations.
func numberPanels(panels []dashboard.PanelOrRowPanel) {
	for i, p := range panels {
		id := uint32(i + 1)
		switch {
		case p.Panel != nil:
			p.Panel.Id = &id
		case p.RowPanel != nil:
			p.RowPanel.Id = id
		}
	}
}

// datasource is the dashboard variable every query goes through, so one
// import works against any Prometheus data source.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

func newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{"ytcaption"}).
		Refresh("30s").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus"))
}

// query is one PromQL expression and its legend.
type query struct{ expr, legend string }

func targets(qs []query) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], 0, len(qs))
	for i, q := range qs {
		out = append(out, prometheus.NewDataqueryBuilder().
			Datasource(datasource).
			RefId(string(rune('A'+i))).
			Expr(q.expr).
			LegendFormat(q.legend))
	}
	return out
}

// graph is a time series panel; stacked graphs add their series up.
func graph(title, description, unit string, stacked bool, qs ...query) *timeseries.PanelBuilder {
	p := timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource).
		Unit(unit).
		Height(8).
		Span(12).
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom))
	if stacked {
		p.Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).FillOpacity(20)
	}
	for _, t := range targets(qs) {
		p.WithTarget(t)
	}
	return p
}

// single is a stat panel coloured by steps.
func single(title, description, unit string, steps []dashboard.Threshold, q query) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasource).
		Unit(unit).
		Height(4).
		Span(6).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"})).
		Thresholds(dashboard.NewThresholdsConfigBuilder().
			Mode(dashboard.ThresholdsModeAbsolute).
			Steps(steps)).
		WithTarget(targets([]query{q})[0])
}

// redFrom is green below v and red from v up.
func redFrom(v float64) []dashboard.Threshold {
	return []dashboard.Threshold{{Color: "green"}, {Value: cog.ToPtr(v), Color: "red"}}
}

// greenFrom is red below v and green from v up.
func greenFrom(v float64) []dashboard.Threshold {
	return []dashboard.Threshold{{Color: "red"}, {Value: cog.ToPtr(v), Color: "green"}}
}

// neutral is one colour: the number has no good or bad side alone.
func neutral() []dashboard.Threshold { return []dashboard.Threshold{{Color: "blue"}} }
