// The image's entrypoint, /usr/bin/oxide-cloud-controller-manager: a FROM-scratch image has no
// shell to assemble a node command line, and the Go CCM's manifests run this path with the CCM's
// flags as arguments. It replaces itself (execve) with
//
//	<prefix>/bin/node <flags from <prefix>/lib/oxide-cloud-controller-manager/node-flags> \
//	    <prefix>/lib/oxide-cloud-controller-manager/oxide-cloud-controller-manager.mjs <args...>
//
// where <prefix> is the directory above the one holding this executable (/usr in the image), so
// node runs as the container's main process: signals, exit codes and RSS are node's own.
// node-flags holds one flag per line; blank lines and lines starting with # are skipped. The
// file is staged from hack/node-flags when the image is built (hack/build-image.sh).
package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

const name = "oxide-cloud-controller-manager"

func main() {
	prefix := "/usr"
	// /proc/self/exe, so a staged tree (tests) resolves next to itself; /usr when /proc is absent.
	if exe, err := os.Executable(); err == nil {
		prefix = filepath.Dir(filepath.Dir(exe))
	}
	node := filepath.Join(prefix, "bin", "node")
	lib := filepath.Join(prefix, "lib", name)

	flags, err := readFlags(filepath.Join(lib, "node-flags"))
	if err != nil {
		fail(err.Error())
	}
	argv := make([]string, 0, 2+len(flags)+len(os.Args))
	argv = append(argv, node)
	argv = append(argv, flags...)
	argv = append(argv, filepath.Join(lib, name+".mjs"))
	argv = append(argv, os.Args[1:]...)
	err = syscall.Exec(node, argv, os.Environ())
	fail("exec " + node + ": " + err.Error())
}

func readFlags(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var flags []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		flags = append(flags, line)
	}
	return flags, scanner.Err()
}

// fail reports on stderr and exits 1; without fmt and log the binary stays ~1.4 MB.
func fail(msg string) {
	os.Stderr.WriteString(name + ": " + msg + "\n")
	os.Exit(1)
}
