package tmpdeps

import (
	_ "github.com/HdrHistogram/hdrhistogram-go"
	_ "github.com/panjf2000/gnet/v2"
	_ "github.com/panjf2000/gnet/v2/pkg/pool/goroutine"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/valyala/bytebufferpool"
	_ "github.com/valyala/fasthttp"
	_ "github.com/valyala/fastjson"
	_ "go.uber.org/goleak"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
	_ "gonum.org/v1/plot"
)
