//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package progress

import (
	"os"
	"syscall"
	"unsafe"
)

// termWidth asks the terminal driver for f's columns (TIOCGWINSZ); ok is
// false when f is not a terminal.
func termWidth(f *os.File) (int, bool) {
	var ws struct{ Row, Col, X, Y uint16 }
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	var errno syscall.Errno
	// Control, not Fd: Fd would switch f to blocking mode.
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, uintptr(syscall.TIOCGWINSZ), uintptr(unsafe.Pointer(&ws)))
	}); err != nil || errno != 0 {
		return 0, false
	}
	return int(ws.Col), true
}
