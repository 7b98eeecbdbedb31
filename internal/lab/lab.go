// Package lab describes flowhawk's labeled lab corpus: the traffic classes
// scripts/lab-traffic.sh records between network namespaces, and the
// classifier trained on them that ships as testdata/model.json. Its tests
// check the bundled model against a held-out sample of a second corpus and,
// as root, that the recording script produces every class and leaves
// nothing behind. See docs/lab.md.
package lab

// Classes are the lab's traffic classes, in the order the script records
// them: the capture directories under a corpus, the labels of its dataset
// and the classes of the bundled model, so that the three stay in step.
var Classes = []string{"web", "bulk", "stream", "dns", "ssh", "ping", "portscan", "synflood", "dga"}

// LeakColumns are feature columns the bundled model must not use: they name
// where a flow was captured (addresses, the lab's port plan, time) rather
// than how its traffic behaves, so a model using them would not carry over
// to other networks. The classifier drops the identifiers itself; the lab
// build drops the responder port and the KDD service derived from it.
var LeakColumns = []string{"Flow ID", "Source IP", "Source Port", "Destination IP", "Destination Port",
	"Timestamp", "service"}

// WindowColumns are the NSL-KDD window features (connections in the last
// 2 s / 100 connections). The bundled model leaves them out: every lab
// capture holds one class, so a flow's neighbours are always of its own
// class there, which does not carry over to a link where classes mix.
var WindowColumns = []string{"count", "srv_count", "serror_rate", "srv_serror_rate", "rerror_rate",
	"srv_rerror_rate", "same_srv_rate", "diff_srv_rate", "srv_diff_host_rate", "dst_host_count",
	"dst_host_srv_count", "dst_host_same_srv_rate", "dst_host_diff_srv_rate",
	"dst_host_same_src_port_rate", "dst_host_srv_diff_host_rate", "dst_host_serror_rate",
	"dst_host_srv_serror_rate", "dst_host_rerror_rate", "dst_host_srv_rerror_rate"}
