package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ytcaption/ytcaption/agent/worker"
)

func doctorCmd(getenv func(string) string) *cobra.Command {
	var cfg worker.Config
	var labels, roles string // accepted so doctor takes run's flags; unused
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the tools, engines, models and GPUs this machine has",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep := worker.Doctor(cmd.Context(), cfg)
			w := cmd.OutOrStdout()
			for _, c := range rep.Checks {
				mark := "ok  "
				if !c.OK {
					mark = "FAIL"
				}
				fmt.Fprintf(w, "[%s] %-14s %s\n", mark, c.Name, c.Detail)
			}
			if !rep.Ready() {
				return fmt.Errorf("this machine cannot run tasks yet (see FAIL lines)")
			}
			fmt.Fprintln(w, "ready")
			return nil
		},
	}
	bindConfig(cmd, getenv, &cfg, &labels, &roles)
	return cmd
}
