// The node's pause image: the process that holds a pod's namespaces. It waits for SIGINT or SIGTERM, and reaps any
// child that ends up under it (when a pod shares one process namespace, it is PID 1). It stands in for
// registry.k8s.io/pause, which the node tests cannot pull.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
