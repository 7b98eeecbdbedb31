package detect

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Conficker-style: 4..10 random letters from a PRNG seeded by the date,
// under a handful of TLDs (Conficker.A/B drew 250 a day this way).
func confickerStyle(day, n int) []string {
	r := rand.New(rand.NewPCG(uint64(day), 0xc0f1c4e7))
	tlds := []string{"com", "net", "org", "info", "biz", "ws", "cn", "cc"}
	out := make([]string, n)
	for i := range out {
		l := 4 + r.IntN(7)
		b := make([]byte, l)
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		out[i] = string(b) + "." + tlds[r.IntN(len(tlds))]
	}
	return out
}

// CryptoLocker-style: the date-seeded xorshift of the published
// CryptoLocker DGA, 12..15 letters, seven TLDs.
func cryptolockerStyle(year, month, day uint32, n int) []string {
	tlds := []string{"com", "net", "biz", "ru", "org", "co.uk", "info"}
	out := make([]string, n)
	for i := range out {
		y, m, d := year, month, day+uint32(i)
		l := 12 + int(d%4)
		b := make([]byte, l)
		for j := range b {
			y = ((y ^ 8*y) >> 11) ^ ((y & 0xFFFFFFF0) << 17)
			m = ((m ^ 4*m) >> 25) ^ 16*(m&0xFFFFFFF8)
			d = ((d ^ (d << 13)) >> 19) ^ ((d & 0xFFFFFFFE) << 12)
			b[j] = byte('a' + (y^m^d)%25)
		}
		out[i] = string(b) + "." + tlds[i%len(tlds)]
	}
	return out
}

// Bamital-style: a hex hash of the date and a counter.
func hashStyle(n int) []string {
	out := make([]string, n)
	for i := range out {
		h := md5.Sum([]byte(fmt.Sprintf("2026-11-23/%d", i)))
		out[i] = hex.EncodeToString(h[:])[:16+i%17] + ".info"
	}
	return out
}

// Suppobox-style: two dictionary words glued; a known blind spot of
// character-statistics scoring, reported but not required.
func wordStyle(n int) []string {
	words := []string{"table", "river", "history", "wonder", "father", "mountain", "should", "picture", "general", "weather", "little", "market", "summer", "family", "number", "travel"}
	r := rand.New(rand.NewPCG(7, 7))
	out := make([]string, n)
	for i := range out {
		out[i] = words[r.IntN(len(words))] + words[r.IntN(len(words))] + ".net"
	}
	return out
}

// benignNames are real hostnames, many odd-looking on purpose: CDN and
// cloud names with random-looking parts, long subdomains, digits.
var benignNames = []string{
	"d3c33hcgiwev3.cloudfront.net", "d1a2b3c4d5e6f7.cloudfront.net", "e7108.dscg.akamaiedge.net", "e6858.dsce9.akamaiedge.net",
	"a1089.dscd.akamai.net", "r3---sn-4g5e6nze.googlevideo.com", "r1---sn-vgqsknes.googlevideo.com", "rr5---sn-ab5l6nzr.googlevideo.com",
	"fbstatic-a.akamaihd.net", "scontent-ams4-1.xx.fbcdn.net", "ec2-54-210-12-34.compute-1.amazonaws.com", "s3.us-west-2.amazonaws.com",
	"lh4.googleusercontent.com", "khms0.googleapis.com", "clients6.google.com", "i.ytimg.com", "yt3.ggpht.com", "ssl.gstatic.com",
	"pagead2.googlesyndication.com", "tpc.googlesyndication.com", "securepubads.g.doubleclick.net", "stats.g.doubleclick.net",
	"www.google.com", "mail.google.com", "www.youtube.com", "www.facebook.com", "www.instagram.com", "twitter.com", "t.co", "x.com",
	"www.wikipedia.org", "upload.wikimedia.org", "meta.wikimedia.org", "www.amazon.com", "images-na.ssl-images-amazon.com",
	"m.media-amazon.com", "www.netflix.com", "occ-0-1234-56.1.nflxso.net", "ipv4-c001-ams001-ix.1.oca.nflxvideo.net",
	"www.microsoft.com", "login.microsoftonline.com", "outlook.office365.com", "settings-win.data.microsoft.com", "v10.events.data.microsoft.com",
	"ctldl.windowsupdate.com", "fe3cr.delivery.mp.microsoft.com", "www.apple.com", "gs-loc.apple.com", "p57-caldav.icloud.com",
	"init.itunes.apple.com", "mesu.apple.com", "www.linkedin.com", "static.licdn.com", "www.reddit.com", "i.redd.it", "styles.redditmedia.com",
	"www.baidu.com", "www.qq.com", "www.taobao.com", "www.tmall.com", "www.jd.com", "www.sohu.com", "www.weibo.com", "www.163.com",
	"www.360.cn", "www.yandex.ru", "mc.yandex.ru", "vk.com", "sun9-34.userapi.com", "www.bing.com", "th.bing.com", "www.yahoo.com",
	"s.yimg.com", "www.ebay.com", "i.ebayimg.com", "www.paypal.com", "www.twitch.tv", "static-cdn.jtvnw.net", "discord.com",
	"cdn.discordapp.com", "www.spotify.com", "i.scdn.co", "audio-ak-spotify-com.akamaized.net", "www.zoom.us", "zoom.us",
	"slack.com", "a.slack-edge.com", "github.com", "avatars.githubusercontent.com", "objects.githubusercontent.com",
	"raw.githubusercontent.com", "gitlab.com", "stackoverflow.com", "cdn.sstatic.net", "i.stack.imgur.com", "askubuntu.com",
	"www.dropbox.com", "dl.dropboxusercontent.com", "drive.google.com", "docs.google.com", "www.whatsapp.com", "web.whatsapp.com",
	"mmg.whatsapp.net", "www.tiktok.com", "p16-sign-va.tiktokcdn.com", "v16-webapp.tiktok.com", "www.pinterest.com", "i.pinimg.com",
	"www.tumblr.com", "64.media.tumblr.com", "www.imdb.com", "m.imdb.com", "www.cnn.com", "www.bbc.co.uk", "ichef.bbci.co.uk",
	"www.nytimes.com", "static01.nyt.com", "www.theguardian.com", "i.guim.co.uk", "www.washingtonpost.com", "www.forbes.com",
	"www.bloomberg.com", "www.reuters.com", "www.espn.com", "a.espncdn.com", "www.weather.com", "www.accuweather.com",
	"cdn.jsdelivr.net", "cdnjs.cloudflare.com", "ajax.googleapis.com", "fonts.googleapis.com", "fonts.gstatic.com", "use.typekit.net",
	"code.jquery.com", "unpkg.com", "www.googletagmanager.com", "www.google-analytics.com", "connect.facebook.net", "bat.bing.com",
	"snap.licdn.com", "static.hotjar.com", "js.hs-scripts.com", "cdn.segment.com", "api.mixpanel.com", "sentry.io", "o123456.ingest.sentry.io",
	"browser-intake-datadoghq.com", "rum.browser-intake-datadoghq.eu", "cdn.optimizely.com", "cdn.cookielaw.org", "geolocation.onetrust.com",
	"c.amazon-adsystem.com", "aax.amazon-adsystem.com", "ib.adnxs.com", "secure.adnxs.com", "pixel.rubiconproject.com", "ads.pubmatic.com",
	"sync.outbrain.com", "cdn.taboola.com", "trc.taboola.com", "cm.g.doubleclick.net", "match.adsrvr.org", "insight.adsrvr.org",
	"eb2.3lift.com", "ssum-sec.casalemedia.com", "dsum-sec.casalemedia.com", "us-u.openx.net", "image6.pubmatic.com", "x.bidswitch.net",
	"ocsp.digicert.com", "ocsp.pki.goog", "crl3.digicert.com", "r3.o.lencr.org", "x1.c.lencr.org", "ocsp.sectigo.com", "ocsp.globalsign.com",
	"time.windows.com", "pool.ntp.org", "0.debian.pool.ntp.org", "deb.debian.org", "security.debian.org", "archive.ubuntu.com",
	"security.ubuntu.com", "mirrors.kernel.org", "dl-cdn.alpinelinux.org", "registry-1.docker.io", "production.cloudflare.docker.com",
	"proxy.golang.org", "sum.golang.org", "registry.npmjs.org", "pypi.org", "files.pythonhosted.org", "repo.maven.apache.org",
	"rubygems.org", "crates.io", "static.crates.io", "index.crates.io", "nuget.org", "api.nuget.org", "download.visualstudio.microsoft.com",
	"marketplace.visualstudio.com", "update.code.visualstudio.com", "vscode.download.prss.microsoft.com", "api.openai.com", "chat.openai.com",
	"www.bankofamerica.com", "www.chase.com", "www.wellsfargo.com", "www.hsbc.co.uk", "www.barclays.co.uk", "www.commbank.com.au",
	"www.rakuten.co.jp", "www.yahoo.co.jp", "www.nicovideo.jp", "www.naver.com", "www.daum.net", "www.mercadolibre.com.ar",
	"www.uol.com.br", "www.globo.com", "www.spiegel.de", "www.bild.de", "www.lemonde.fr", "www.leboncoin.fr", "www.corriere.it",
	"www.elpais.com", "www.marca.com", "www.allegro.pl", "www.onet.pl", "www.seznam.cz", "www.idnes.cz", "www.nu.nl", "www.tweakers.net",
	"www.ziggo.nl", "www.hln.be", "www.orf.at", "www.srf.ch", "www.dr.dk", "www.vg.no", "www.aftonbladet.se", "www.yle.fi",
	"www.hurriyet.com.tr", "www.ynet.co.il", "www.flipkart.com", "www.irctc.co.in", "www.timesofindia.com", "www.dawn.com",
	"www.detik.com", "www.tokopedia.com", "www.shopee.co.id", "www.lazada.com.ph", "www.grab.com", "www.zalando.de", "www.otto.de",
	"www.booking.com", "cf.bstatic.com", "www.airbnb.com", "a0.muscache.com", "www.tripadvisor.com", "www.expedia.com", "www.uber.com",
	"www.lyft.com", "www.doordash.com", "www.instacart.com", "www.walmart.com", "i5.walmartimages.com", "www.target.com", "www.bestbuy.com",
	"www.homedepot.com", "www.ikea.com", "www.etsy.com", "i.etsystatic.com", "www.shopify.com", "cdn.shopify.com", "www.squarespace.com",
	"www.wix.com", "static.wixstatic.com", "www.wordpress.com", "s0.wp.com", "i0.wp.com", "gravatar.com", "secure.gravatar.com",
	"www.medium.com", "miro.medium.com", "substack.com", "substackcdn.com", "www.quora.com", "qph.cf2.quoracdn.net", "www.yelp.com",
	"s3-media0.fl.yelpcdn.com", "www.craigslist.org", "www.indeed.com", "www.glassdoor.com", "www.zillow.com", "photos.zillowstatic.com",
	"www.nasa.gov", "www.nih.gov", "www.cdc.gov", "www.irs.gov", "www.usps.com", "www.fedex.com", "www.ups.com", "www.dhl.com",
	"www.mozilla.org", "detectportal.firefox.com", "firefox.settings.services.mozilla.com", "push.services.mozilla.com", "aus5.mozilla.org",
	"safebrowsing.googleapis.com", "update.googleapis.com", "clientservices.googleapis.com", "accounts.google.com", "play.googleapis.com",
	"android.clients.google.com", "connectivitycheck.gstatic.com", "mtalk.google.com", "www.gstatic.com", "encrypted-tbn0.gstatic.com",
	"steamcommunity.com", "store.steampowered.com", "cdn.cloudflare.steamstatic.com", "epicgames.com", "www.roblox.com", "rbxcdn.com",
	"www.ea.com", "www.playstation.com", "xboxlive.com", "www.nintendo.com", "www.speedtest.net", "www.fast.com", "www.cloudflare.com",
	"one.one.one.one", "dns.google", "www.akamai.com", "www.fastly.com", "global.ssl.fastly.net", "dualstack.reddit.map.fastly.net",
	"www.oracle.com", "www.ibm.com", "www.salesforce.com", "www.sap.com", "www.adobe.com", "use.typekit.com", "www.autodesk.com",
	"www.tesla.com", "www.bmw.de", "www.toyota.co.jp", "www.samsung.com", "www.lg.com", "www.sony.com", "www.huawei.com", "www.xiaomi.com",
	"wpad.home", "upload.wikimedia.org.ncsa.uiuc.edu", "cr.yp.to", "daniel.haxx.se", "git.nlnetlabs.nl", "img.cybersear.ch", "jacquesgenin.fr",
	"gieseanw.wordpress.com", "loula13.blogspot.com", "alexkeepsintouch.blogspot.com", "cdnsmall.codeflavors.com", "b.scorecardresearch.com",
	"edge.quantserve.com", "cdn.printfriendly.com", "easylist-downloads.adblockplus.org", "feeds2.feedburner.com", "mathoverflow.net",
}

type dgaRate struct {
	family    string
	names     []string
	flagged   int
	requireAt float64 // minimum detection rate required (0: reported only)
}

func TestDGAScoring(t *testing.T) {
	cfg := DefaultConfig()
	thr, minLen := cfg.DGAScore, cfg.DGAMinLen
	fams := []*dgaRate{
		{family: "conficker-style", names: confickerStyle(20261123, 500), requireAt: 0.4},
		{family: "cryptolocker-style", names: cryptolockerStyle(2026, 11, 23, 500), requireAt: 0.85},
		{family: "hash/bamital-style", names: hashStyle(200), requireAt: 0.99},
		{family: "dictionary/suppobox-style", names: wordStyle(200)},
	}
	for _, f := range fams {
		for _, n := range f.names {
			if DGAScore(n, minLen) >= thr {
				f.flagged++
			}
		}
		rate := float64(f.flagged) / float64(len(f.names))
		t.Logf("DGA detection %-26s %4d/%4d = %5.1f%%", f.family, f.flagged, len(f.names), 100*rate)
		if rate < f.requireAt {
			t.Errorf("%s: detection %.1f%% below %.0f%%", f.family, 100*rate, 100*f.requireAt)
		}
	}
	// Conficker names of 7+ letters (the length the score considers).
	long, longHit := 0, 0
	for _, n := range fams[0].names {
		if l, _, _ := splitName(n); len(l) >= minLen {
			long++
			if DGAScore(n, minLen) >= thr {
				longHit++
			}
		}
	}
	t.Logf("DGA detection conficker-style, labels >= %d: %d/%d = %.1f%%", minLen, longHit, long, 100*float64(longHit)/float64(long))
	if float64(longHit) < 0.75*float64(long) {
		t.Errorf("conficker-style labels >= %d: detection below 75%%", minLen)
	}

	var fps []string
	type scored struct {
		n string
		s float64
	}
	var all []scored
	for _, n := range benignNames {
		s := DGAScore(n, minLen)
		all = append(all, scored{n, s})
		if s >= thr {
			fps = append(fps, fmt.Sprintf("%s=%.2f", n, s))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].s > all[j].s })
	fpr := float64(len(fps)) / float64(len(benignNames))
	t.Logf("DGA false positives on %d real hostnames: %d = %.1f%% %v", len(benignNames), len(fps), 100*fpr, fps)
	for _, s := range all[:8] {
		t.Logf("  highest benign: %-45s %.2f", s.n, s.s)
	}
	// The trade-off at other thresholds, for docs/detect.md.
	for _, th := range []float64{0.5, 0.55, 0.6, 0.65, 0.7} {
		fp := 0
		for _, n := range benignNames {
			if DGAScore(n, minLen) >= th {
				fp++
			}
		}
		line := fmt.Sprintf("threshold %.2f: FP %4.1f%%", th, 100*float64(fp)/float64(len(benignNames)))
		for _, f := range fams[:3] {
			hit := 0
			for _, n := range f.names {
				if DGAScore(n, minLen) >= th {
					hit++
				}
			}
			line += fmt.Sprintf("  %s %5.1f%%", f.family, 100*float64(hit)/float64(len(f.names)))
		}
		t.Log(line)
	}
	if fpr > 0.02 {
		t.Errorf("false-positive rate %.1f%% above 2%%", 100*fpr)
	}
}

func TestRegistrable(t *testing.T) {
	for _, c := range []struct{ in, rd, tld, label, sub string }{
		{"www.google.com", "google.com", "com", "google", "www"},
		{"d3c33hcgiwev3.cloudfront.net", "cloudfront.net", "net", "cloudfront", "d3c33hcgiwev3"},
		{"news.bbc.co.uk", "bbc.co.uk", "uk", "bbc", "news"},
		{"co.uk", "", "uk", "", ""},
		{"com", "", "com", "", ""},
		{"example.com.", "example.com", "com", "example", ""},
		{"www.example.com.", "example.com", "com", "example", "www"},
		{"a.b.c.example.com.au", "example.com.au", "au", "example", "a.b.c"},
	} {
		rd, tld := registrable(c.in)
		label, sub, _ := splitName(c.in)
		if rd != c.rd || tld != c.tld || label != c.label || sub != c.sub {
			t.Errorf("%s: got rd %q tld %q label %q sub %q, want %q %q %q %q", c.in, rd, tld, label, sub, c.rd, c.tld, c.label, c.sub)
		}
	}
}

// popularNames are the names of popular sites, services, trackers and
// CDNs, collected after the scoring was tuned on benignNames, so they
// measure the false-positive rate on names it was not fitted to.
var popularNames = []string{
	"dns.msftncsi.com", "www.msftconnecttest.com", "gstatic.com", "googleapis.com", "doubleclick.net",
	"fbcdn.net", "akamaihd.net", "ytimg.com", "twimg.com", "sstatic.net", "bootstrapcdn.com",
	"jsdelivr.net", "cdnjs.cloudflare.com", "msedge.net", "azureedge.net", "trafficmanager.net",
	"windowsupdate.com", "mozgcp.net", "digicert.com", "symcd.com", "lencr.org", "pki.goog",
	"gvt1.com", "gvt2.com", "ggpht.com", "1e100.net", "xboxlive.com", "nflxvideo.net", "nflxso.net",
	"nflximg.net", "llnwd.net", "edgekey.net", "edgesuite.net", "akadns.net", "akamaized.net",
	"scdn.co", "spotifycdn.com", "dropboxstatic.com", "wbx2.com", "webex.com", "zoom.us", "skype.com",
	"lync.com", "sfx.ms", "aadcdn.msftauth.net", "msauth.net", "msftauth.net", "office365.com",
	"sharepointonline.com", "onedrive.live.com", "mmg.whatsapp.net", "cdninstagram.com",
	"tiktokcdn.com", "byteoversea.com", "ibytedtos.com", "pstatp.com", "bdstatic.com", "qq.com",
	"gtimg.cn", "alicdn.com", "mmstat.com", "tbcdn.cn", "yximgs.com", "hdslb.com", "bilivideo.com",
	"vkuser.net", "userapi.com", "mycdn.me", "yandex.net", "yastatic.net", "mail.ru", "imgsmail.ru",
	"rbxcdn.com", "steamstatic.com", "steamcontent.com", "epicgames.com", "unrealengine.com",
	"xvideos-cdn.com", "phncdn.com", "pinimg.com", "redditstatic.com", "redd.it",
	"githubusercontent.com", "githubassets.com", "npmjs.org", "pypi.org", "pythonhosted.org",
	"rubygems.org", "crates.io", "golang.org", "gcr.io", "docker.io", "quay.io", "k8s.io",
	"ubuntu.com", "debian.org", "fedoraproject.org", "archlinux.org", "kde.org", "gnome.org",
	"mzstatic.com", "icloud-content.com", "apple-dns.net", "cdn-apple.com", "aaplimg.com",
	"itunes.apple.com", "smoot.apple.com", "dbankcloud.com", "hicloud.com",
	"samsungcloudsolution.com", "xiaomi.net", "miui.com", "mistat.xiaomi.com", "ntp.org",
	"pool.ntp.org", "time.windows.com", "wpad.lan", "crashlytics.com", "appsflyer.com", "adjust.com",
	"branch.io", "criteo.com", "rubiconproject.com", "pubmatic.com", "adnxs.com", "casalemedia.com",
	"openx.net", "smartadserver.com", "taboola.com", "outbrain.com", "scorecardresearch.com",
	"quantserve.com", "chartbeat.net", "hotjar.com", "mxpnl.com", "segment.io", "newrelic.com",
	"nr-data.net", "datadoghq.com", "sentry.io", "bugsnag.com", "fastly.net", "fastlylb.net",
	"cloudflare-dns.com", "cloudflareinsights.com", "hcaptcha.com", "recaptcha.net", "gravatar.com",
	"wp.com", "wordpress.com", "bkrtx.com", "krxd.net", "bluekai.com", "demdex.net", "omtrdc.net",
	"everesttech.net", "tapad.com", "rlcdn.com", "agkn.com", "mathtag.com", "exelator.com",
	"bidswitch.net", "3lift.com", "lijit.com", "sonobi.com", "yieldmo.com", "zemanta.com",
	"dotomi.com", "mookie1.com", "ctnsnet.com", "imrworldwide.com", "tynt.com", "vmwservices.com",
	"vmware.com", "citrixonline.com", "gotomeeting.com", "logmein.com", "teamviewer.com",
	"anydesk.com", "kaspersky-labs.com", "avast.com", "avcdn.net", "mcafee.com", "symantec.com",
	"norton.com", "sophosxl.net", "trendmicro.com", "eset.com", "bitdefender.net", "malwarebytes.com",
	"crwdcntrl.net", "wdsvc.net", "xn--80ak6aa92e.com", "google.com", "youtube.com", "facebook.com",
	"instagram.com", "twitter.com", "x.com", "linkedin.com", "wikipedia.org", "amazon.com",
	"amazonaws.com", "apple.com", "icloud.com", "microsoft.com", "live.com", "outlook.com",
	"office.com", "bing.com", "msn.com", "yahoo.com", "netflix.com", "twitch.tv", "tiktok.com",
	"reddit.com", "pinterest.com", "tumblr.com", "whatsapp.com", "telegram.org", "signal.org",
	"discord.com", "discordapp.com", "slack.com", "dropbox.com", "box.com", "github.com",
	"gitlab.com", "bitbucket.org", "stackoverflow.com", "adobe.com", "adobedtm.com", "typekit.net",
	"salesforce.com", "force.com", "sfdcstatic.com", "zendesk.com", "hubspot.com", "hs-scripts.com",
	"hsforms.net", "mktoresp.com", "marketo.net", "pardot.com", "intercom.io", "intercomcdn.com",
	"drift.com", "optimizely.com", "mixpanel.com", "amplitude.com", "heapanalytics.com",
	"fullstory.com", "clarity.ms", "bat.bing.com", "googletagmanager.com", "google-analytics.com",
	"googlesyndication.com", "googleadservices.com", "googleusercontent.com", "googlevideo.com",
	"withgoogle.com", "appspot.com", "firebaseio.com", "firebaseapp.com", "app-measurement.com",
	"cloudfunctions.net", "run.app", "web.app", "azure.com", "azurewebsites.net", "windows.net",
	"blob.core.windows.net", "msftncsi.com", "msftconnecttest.com", "microsoftonline.com",
	"msecnd.net", "aspnetcdn.com", "visualstudio.com", "vsassets.io", "nuget.org",
	"powershellgallery.com", "sectigo.com", "globalsign.com", "entrust.net", "letsencrypt.org",
	"identrust.com", "godaddy.com", "cloudflare.com", "cloudflare.net", "shopify.com",
	"myshopify.com", "shopifycdn.com", "squarespace.com", "wix.com", "wixstatic.com",
	"parastorage.com", "weebly.com", "ebay.com", "ebayimg.com", "paypal.com", "paypalobjects.com",
	"stripe.com", "stripe.network", "braintreegateway.com", "klarna.com", "adyen.com", "walmart.com",
	"target.com", "bestbuy.com", "etsy.com", "etsystatic.com", "aliexpress.com", "alibaba.com",
	"taobao.com", "tmall.com", "jd.com", "baidu.com", "weibo.com", "sina.com.cn", "sohu.com",
	"163.com", "126.net", "netease.com", "bytedance.com", "douyin.com", "kuaishou.com",
	"bilibili.com", "zhihu.com", "csdn.net", "cnblogs.com", "naver.com", "navercorp.com",
	"pstatic.net", "kakao.com", "daum.net", "line.me", "line-scdn.net", "yahoo.co.jp",
	"rakuten.co.jp", "nicovideo.jp", "dmm.com", "mercari.com", "vk.com", "ok.ru", "yandex.ru",
	"avito.ru", "ozon.ru", "wildberries.ru", "espn.com", "espncdn.com", "cnn.com", "nytimes.com",
	"nyt.com", "washingtonpost.com", "wsj.com", "bbc.co.uk", "bbci.co.uk", "theguardian.com",
	"guim.co.uk", "reuters.com", "bloomberg.com", "forbes.com", "cnbc.com", "foxnews.com",
	"nbcnews.com", "cbsnews.com", "usatoday.com", "huffpost.com", "buzzfeed.com", "vice.com",
	"imdb.com", "media-amazon.com", "ssl-images-amazon.com", "amazon-adsystem.com", "cloudfront.net",
	"akamai.net", "akamaiedge.net", "akamaitechnologies.com", "edgecastcdn.net", "llnwi.net",
	"footprint.net", "cdn77.org", "bunnycdn.com", "b-cdn.net", "keycdn.com", "stackpathdns.com",
	"hwcdn.net", "cachefly.net", "jwpcdn.com", "jwplayer.com", "brightcove.net", "vimeo.com",
	"vimeocdn.com", "dailymotion.com", "dmcdn.net", "soundcloud.com", "sndcdn.com", "spotify.com",
	"deezer.com", "pandora.com", "hulu.com", "hulustream.com", "disneyplus.com", "bamgrid.com",
	"dssott.com", "hbomax.com", "max.com", "primevideo.com", "aiv-cdn.net", "peacocktv.com",
	"paramountplus.com", "roku.com", "rokutime.com", "sling.com", "fubo.tv", "plex.tv", "plex.direct",
	"xbox.com", "playstation.com", "playstation.net", "sonyentertainmentnetwork.com", "nintendo.net",
	"nintendo.com", "riotgames.com", "leagueoflegends.com", "battle.net", "blizzard.com", "ea.com",
	"origin.com", "ubisoft.com", "ubi.com", "rockstargames.com", "valvesoftware.com",
	"steampowered.com", "steamcommunity.com", "twitchcdn.net", "jtvnw.net", "ttvnw.net",
	"mozilla.org", "mozilla.net", "firefox.com", "mozaws.net", "opera.com", "brave.com",
	"duckduckgo.com", "startpage.com", "ecosia.org", "wolframalpha.com", "openai.com", "chatgpt.com",
	"oaistatic.com", "oaiusercontent.com", "anthropic.com", "claude.ai", "perplexity.ai",
	"huggingface.co", "hf.co", "kaggle.com", "colab.research.google.com", "jupyter.org",
	"anaconda.com", "conda.io", "condaforge.org", "readthedocs.io", "sphinx-doc.org", "mkdocs.org",
	"netlify.app", "netlify.com", "vercel.app", "vercel.com", "herokuapp.com", "heroku.com",
	"digitaloceanspaces.com", "digitalocean.com", "linode.com", "vultr.com", "ovh.net", "hetzner.com",
	"scaleway.com", "oraclecloud.com", "ibm.com", "softlayer.com", "rackspace.com", "atlassian.com",
	"atlassian.net", "jira.com", "trello.com", "asana.com", "notion.so", "figma.com", "canva.com",
	"miro.com", "airtable.com", "monday.com", "clickup.com", "evernote.com", "grammarly.com",
	"grammarly.io", "lastpass.com", "1password.com", "bitwarden.com", "dashlane.com", "okta.com",
	"oktacdn.com", "auth0.com", "duosecurity.com", "onelogin.com", "pingidentity.com", "cisco.com",
	"meraki.com", "umbrella.com", "opendns.com", "paloaltonetworks.com", "fortinet.com",
	"fortiguard.com", "checkpoint.com", "zscaler.net", "zscaler.com", "crowdstrike.com",
	"sentinelone.net", "cylance.com", "carbonblack.io", "tenable.com", "qualys.com", "rapid7.com",
	"splunk.com", "splunkcloud.com", "elastic.co", "sumologic.com", "loggly.com", "papertrailapp.com",
	"pagerduty.com", "opsgenie.com", "statuspage.io", "twilio.com", "sendgrid.net", "mailchimp.com",
	"mcusercontent.com", "list-manage.com", "mailgun.org", "sparkpostmail.com", "amazonses.com",
	"postmarkapp.com", "constantcontact.com",
}

// TestDGAPopularNames reports the false positives on popularNames with and
// without the built-in allowlist, and fails above 1 % with it.
func TestDGAPopularNames(t *testing.T) {
	cfg := DefaultConfig()
	allow := map[string]bool{}
	for _, n := range knownDomains {
		allow[n] = true
	}
	var raw, fps []string
	for _, n := range popularNames {
		s := DGAScore(n, cfg.DGAMinLen)
		if s < cfg.DGAScore {
			continue
		}
		raw = append(raw, fmt.Sprintf("%s=%.2f", n, s))
		if rd, _ := registrable(n); !allow[rd] {
			fps = append(fps, fmt.Sprintf("%s=%.2f", n, s))
		}
	}
	t.Logf("popular names: %d; scored >= %.2f: %d (%.1f%%) %v; not in the built-in allowlist: %d (%.1f%%) %v",
		len(popularNames), cfg.DGAScore, len(raw), 100*float64(len(raw))/float64(len(popularNames)), raw,
		len(fps), 100*float64(len(fps))/float64(len(popularNames)), fps)
	if float64(len(fps)) > 0.01*float64(len(popularNames)) {
		t.Errorf("false positives on popular names above 1%%: %v", fps)
	}
}

// TestDGAAllow checks the built-in allowlist and --dga-allow files (plain
// and Tranco's rank,domain CSV) in the detector, and the errors for a
// missing file, a file without domains, and --dga-allow without the dns
// detector.
func TestDGAAllow(t *testing.T) {
	dir := t.TempDir()
	tranco := filepath.Join(dir, "top.csv")
	plain := filepath.Join(dir, "local.txt")
	empty := filepath.Join(dir, "empty.txt")
	gen := cryptolockerStyle(2026, 2, 2, 3)
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(tranco, "1,google.com\n2,"+gen[0]+"\n")
	write(plain, "# ours\nbuild."+gen[1]+"  # the build farm\n")
	write(empty, "# nothing\n\n1,2\n")
	cfg := only("dns")
	cfg.DGAAllow = []string{tranco, plain}
	e, c := newTest(t, cfg)
	for i, n := range []string{"dns.msftncsi.com", "x." + gen[0], gen[1], gen[2]} {
		e.OnPacket(pkt(t0+int64(i)*sec, "10.0.0.5", "10.0.0.53", 40000+uint16(i), 53, 17, 0, dnsQuery(1, n, false, 0)))
	}
	e.Close()
	var got []string
	for _, a := range c.alerts {
		got = append(got, a.Rule+" "+a.DNSName)
	}
	if want := []string{"dns.dga " + gen[2]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
	for _, tc := range []struct {
		files []string
		det   string
		want  string
	}{
		{[]string{filepath.Join(dir, "missing")}, "dns", "missing"},
		{[]string{empty}, "dns", "empty.txt: no domain names in 3 lines"},
		{[]string{plain}, "portscan", "needs the dns detector"},
	} {
		cfg := DefaultConfig()
		cfg.Detect, cfg.DGAAllow = tc.det, tc.files
		if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v with --detect %s: error %v, want it to say %q", tc.files, tc.det, err, tc.want)
		}
	}
}
