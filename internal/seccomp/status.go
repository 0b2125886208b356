package seccomp

import (
	"os"
	"strconv"
	"strings"
)

var readFile = os.ReadFile

func parseSeccompMode(status string) int {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}
