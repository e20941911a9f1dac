package etcdtest

import (
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// closeNoise is what every embedded etcd logs at error level for each of
// its listeners when it is closed; it says nothing about the test.
const closeNoise = "setting up serving from embedded etcd failed."

// quietCore drops closeNoise and passes everything else on.
type quietCore struct{ zapcore.Core }

func (c quietCore) With(fields []zapcore.Field) zapcore.Core { return quietCore{c.Core.With(fields)} }

func (c quietCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if e.Message == closeNoise {
		return ce
	}
	return c.Core.Check(e, ce)
}

// newLogger returns the logger of embedded members: JSON on stderr at
// error level, without the noise of a normal shutdown.
func newLogger(name string) *zap.Logger {
	core := zapcore.NewCore(
		zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.Lock(os.Stderr),
		zapcore.ErrorLevel,
	)
	return zap.New(quietCore{core}).With(zap.String("etcd_member", name))
}
