// Command logwriter writes given lines to its stdout and stderr, for the
// tests that read a container's log through the Docker Engine. It is built
// statically (CGO_ENABLED=0) into a FROM scratch image.
//
// Each argument is a command:
//
//	out:TEXT          write TEXT and a newline to stdout
//	err:TEXT          write TEXT and a newline to stderr
//	part:TEXT         write TEXT to stdout without a newline
//	big:STREAM:N:MSG  write a log line with message MSG and a field of N bytes
//	echo:             write a log line saying whether stdin echoes: message
//	                  "stdin echo on", "stdin echo off" or "stdin is no terminal"
//	wait              run the commands read from stdin, one a line, until
//	                  "exit" or the end of stdin
//
// On stdin, a TEXT that starts with '"' is a Go string literal, so that a
// command can write several lines at once. When stdin is a terminal its
// echo is turned off before any command runs, so that the commands a test
// writes do not show in the log: a test writes to stdin only after it has
// read a line the writer printed, and by then echo is off. (Turned off at
// "wait", it could still be on when a test that had read the lines before
// "wait" wrote its first command: the terminal echoed it into the log.)
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

func main() {
	noEcho(os.Stdin)
	for _, arg := range os.Args[1:] {
		if arg == "wait" {
			if err := fromStdin(); err != nil {
				fmt.Fprintln(os.Stderr, "logwriter:", err)
				os.Exit(1)
			}
			continue
		}
		if err := run(arg, false); err != nil {
			fmt.Fprintln(os.Stderr, "logwriter:", err)
			os.Exit(2)
		}
	}
}

func fromStdin() error {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		cmd := strings.TrimSuffix(sc.Text(), "\r")
		if cmd == "exit" {
			return nil
		}
		if err := run(cmd, true); err != nil {
			return err
		}
	}
	return sc.Err()
}

func run(cmd string, quoted bool) error {
	kind, text, ok := strings.Cut(cmd, ":")
	if !ok {
		return fmt.Errorf("bad command %q", cmd)
	}
	if quoted && strings.HasPrefix(text, `"`) {
		s, err := strconv.Unquote(text)
		if err != nil {
			return fmt.Errorf("bad string in %q: %v", cmd, err)
		}
		text = s
	}
	switch kind {
	case "out":
		return write(os.Stdout, text)
	case "err":
		return write(os.Stderr, text)
	case "part":
		_, err := io.WriteString(os.Stdout, text)
		return err
	case "big":
		parts := strings.SplitN(text, ":", 3)
		if len(parts) != 3 {
			return fmt.Errorf("bad command %q", cmd)
		}
		n, err := strconv.Atoi(parts[1])
		if err != nil {
			return err
		}
		w := io.Writer(os.Stdout)
		if parts[0] == "err" {
			w = os.Stderr
		}
		line := `[2024/07/24 12:47:12.000 +00:00] [INFO] [big.rs:1] [` + parts[2] + `] [v=` + strings.Repeat("x", n) + `]`
		return write(w, line)
	case "echo":
		return write(os.Stdout, `[2024/07/24 12:47:12.000 +00:00] [INFO] [echo.rs:1] ["stdin `+echoState(os.Stdin)+`"]`)
	}
	return fmt.Errorf("bad command %q", cmd)
}

func write(w io.Writer, text string) error {
	_, err := io.WriteString(w, text+"\n")
	return err
}

// noEcho turns off a terminal's echo; it does nothing to other files.
func noEcho(f *os.File) {
	t, ok := termios(f)
	if !ok {
		return
	}
	t.Lflag &^= syscall.ECHO
	syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCSETS, uintptr(unsafe.Pointer(&t)))
}

// echoState says whether f is a terminal that echoes its input.
func echoState(f *os.File) string {
	t, ok := termios(f)
	switch {
	case !ok:
		return "is no terminal"
	case t.Lflag&syscall.ECHO != 0:
		return "echo on"
	}
	return "echo off"
}

// termios reads f's terminal settings; false when f is no terminal.
func termios(f *os.File) (syscall.Termios, bool) {
	var t syscall.Termios
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return t, e == 0
}
