package detect

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"strings"
)

// multiSuffixes are public suffixes of two labels (a small, built-in part
// of the Public Suffix List: ICANN second-level domains of common
// ccTLDs). Any other name's public suffix is its last label.
var multiSuffixes = func() map[string]bool {
	m := map[string]bool{}
	for _, cc := range []string{"uk", "jp", "nz", "za", "il", "kr", "in", "id", "th", "ke", "ug", "tz"} {
		for _, sl := range []string{"co", "ac", "or", "ne", "go", "gov", "org", "net", "ltd", "plc", "me", "sch", "nhs"} {
			m[sl+"."+cc] = true
		}
	}
	for _, cc := range []string{"au", "br", "cn", "tw", "hk", "sg", "mx", "ar", "tr", "my", "ph", "pk", "sa", "eg", "ua", "vn", "co", "pe", "ng", "uy", "ec", "bd", "np", "lb", "qa", "kw"} {
		for _, sl := range []string{"com", "net", "org", "edu", "gov", "ac", "co"} {
			m[sl+"."+cc] = true
		}
	}
	for _, s := range []string{"in-addr.arpa", "ip6.arpa", "gc.ca", "qc.ca", "on.ca", "bc.ca", "ab.ca", "gouv.fr", "asso.fr", "com.de", "gv.at", "co.at", "or.at", "com.pl", "net.pl", "org.pl", "co.hu", "com.ru", "org.ru", "net.ru", "msk.ru", "spb.ru", "com.es", "org.es", "nom.es", "co.it", "gov.it"} {
		m[s] = true
	}
	return m
}()

// registrable returns the registrable domain of a dotted, lower-case name
// (one label plus its public suffix) and the top-level domain; both empty
// when the name is only a suffix.
func registrable(name string) (domain, tld string) {
	name = strings.TrimSuffix(name, ".")
	last := strings.LastIndexByte(name, '.')
	if last < 0 {
		return "", name
	}
	tld = name[last+1:]
	sfx := last // the dot before the public suffix
	prev := strings.LastIndexByte(name[:last], '.')
	if multiSuffixes[name[prev+1:]] {
		if prev < 0 {
			return "", tld
		}
		sfx = prev
	}
	start := strings.LastIndexByte(name[:sfx], '.') + 1
	return name[start:], tld
}

// splitName returns the label scored for DGA (the registrable domain's
// first label), the subdomain part before it, and the TLD. A name whose
// last label is no top-level domain (dnscat without a domain,
// "dnscat.<34 hex digits>", whose hex was taken for the TLD and scored
// nothing) has no TLD: the whole name is the part a tunnel fills, and its
// longest label is scored.
func splitName(name string) (label, sub, tld string) {
	name = strings.TrimSuffix(name, ".")
	if last := strings.LastIndexByte(name, '.'); last >= 0 && !tldShape(name[last+1:]) {
		for l := range strings.SplitSeq(name, ".") {
			if len(l) > len(label) {
				label = l
			}
		}
		return label, name, ""
	}
	rd, tld := registrable(name)
	if rd == "" {
		return "", "", tld
	}
	label = rd
	if i := strings.IndexByte(rd, '.'); i >= 0 {
		label = rd[:i]
	}
	if len(name) > len(rd) {
		sub = strings.TrimSuffix(name[:len(name)-len(rd)], ".")
	}
	return label, sub, tld
}

// commonBigrams are the most frequent letter pairs of English text and of
// popular domain names; random (DGA) strings are mostly made of others.
const commonBigrams = "th he in er an re on at en nd ti es or te of ed is it al ar st to nt ng se ha as ou io le ve co me de hi ri ro ic ne ea ra ce li ch ll be ma si om ur ca el ta la ns di fo ho pe ec pr no ct us ac ot il tr ly nc et ut ss so rs un lo wa ge ie wh ee wi em ad ol rt po we na ul ni ts mo ow pa im mi ai sh ir su id os iv ia am fi ci vi pl ig tu ev ld ry mp fe bl ab gh ty op wo sa ay ex ke fr oo av ag if ap gr od bo sp rd do uc bu ei ov by rm ep tt oc fa ef cu rn sc gi da yo cr cl du ga qu ue ff ba ey ls va um pp ua up lu go ht ru ug ds lt pi rc rr eg au ck ew mu br bi pt ak pu ui rg ib tl ny ki rk ys ob mm fu ph og ms ye ud mb ip ub oi rl gu dr hr cc tw ft wn nu af hu nn eo vo rv nf xp gn sm fl iz ok nl my gl aw ju oa eq sy sl ps jo lf nv je nk kn gs dy hy ze ks xt bs ik dd cy rp sk xi oe oy ws ix ya oh ap ka yn"

var bigramTable = func() (t [26][26]bool) {
	for _, bg := range strings.Fields(commonBigrams) {
		t[bg[0]-'a'][bg[1]-'a'] = true
	}
	return t
}()

// DGAFeatures are the measurements the DGA score combines; exported so
// tests and docs can show why a name scored as it did.
type DGAFeatures struct {
	Len        int
	Entropy    float64 // Shannon entropy, bits per character
	RareBigram float64 // share of letter pairs not among common English/domain bigrams
	VowelRatio float64 // vowels (aeiou) / letters
	ConsRun    int     // longest run of consonants
	DigitRatio float64 // digits / length, when letters and digits mix
	Hex        bool    // only hex digits, with both letters and digits
}

// Measure computes the DGA features of one label.
func Measure(label string) DGAFeatures {
	f := DGAFeatures{Len: len(label)}
	var counts [256]int
	letters, vowels, digits, run := 0, 0, 0, 0
	pairs, rare := 0, 0
	hex := true
	prev := byte(0)
	for i := 0; i < len(label); i++ {
		c := label[i]
		counts[c]++
		isLetter := c >= 'a' && c <= 'z'
		switch {
		case isLetter:
			letters++
			if strings.IndexByte("aeiou", c) >= 0 {
				vowels++
				run = 0
			} else {
				run++
				f.ConsRun = max(f.ConsRun, run)
			}
			if c > 'f' {
				hex = false
			}
			if prev >= 'a' && prev <= 'z' {
				pairs++
				if !bigramTable[prev-'a'][c-'a'] {
					rare++
				}
			}
		case c >= '0' && c <= '9':
			digits++
			run = 0
		default:
			hex = false
			run = 0
		}
		prev = c
	}
	n := float64(len(label))
	for _, k := range counts {
		if k > 0 {
			p := float64(k) / n
			f.Entropy -= p * math.Log2(p)
		}
	}
	if pairs > 0 {
		f.RareBigram = float64(rare) / float64(pairs)
	}
	if letters > 0 {
		f.VowelRatio = float64(vowels) / float64(letters)
		if digits > 0 {
			f.DigitRatio = float64(digits) / n
		}
	}
	f.Hex = hex && letters > 0 && digits > 0
	return f
}

func clamp01(x float64) float64 { return math.Max(0, math.Min(1, x)) }

// Score combines the features into [0,1]: rare bigrams weigh half, then
// consonant runs, few vowels, entropy relative to the label's length and
// digits mixed into letters. Hex strings of 16+ characters score at least
// 0.9. Labels shorter than minLen score 0.
func (f DGAFeatures) Score(minLen int) float64 {
	if f.Len < minLen {
		return 0
	}
	maxH := math.Log2(math.Min(float64(f.Len), 36))
	ent := 0.0
	if maxH > 0 {
		ent = clamp01((f.Entropy/maxH - 0.75) / 0.2)
	}
	s := 0.50*clamp01((f.RareBigram-0.10)/0.30) +
		0.15*clamp01(float64(f.ConsRun-3)/3) +
		0.15*clamp01((0.35-f.VowelRatio)/0.2) +
		0.10*ent +
		0.10*clamp01(f.DigitRatio/0.25)
	if f.Hex && f.Len >= 16 {
		s = math.Max(s, 0.9)
	}
	return s
}

// DGAScore scores a full DNS name by its registrable domain's label (so
// CDN hostnames like d3c33hcgiwev3.cloudfront.net score as "cloudfront"),
// 0 for names that are only a suffix, punycode, or reverse lookups.
func DGAScore(name string, minLen int) float64 {
	label, _, tld := splitName(name)
	if label == "" || localTLDs[tld] || strings.HasPrefix(label, "xn--") {
		return 0
	}
	return Measure(dgaLabel(label)).Score(minLen)
}

// infraTokens are building blocks of infrastructure domain names
// (espncdn, ebayimg, yelpcdn) and the words that brands glue to an
// acronym (nbcnews, cnblogs, hsforms, chatgpt), whose consonant clusters
// look random; they are removed before a label is measured. None changed
// a detection rate in TestDGAScoring: random labels rarely hold them.
var infraTokens = []string{"cdn", "img", "static", "media", "api", "ads", "dns", "srv", "www",
	"news", "blog", "form", "chat", "mail", "shop", "cloud", "video", "live", "game", "store",
	"book", "music", "play", "tube", "photo", "lytics", "track", "sync", "login", "auth", "cast",
	"host", "site", "soft", "tech", "data", "link", "click", "search", "feed"}

// knownDomains are registrable domains that every network queries all day
// and that score as generated: vowel-less abbreviations no character
// statistic can tell from a DGA's output (msftncsi is Windows' network
// connectivity check, crwdcntrl Lotame's "crowd control"). They are never
// scored; --dga-allow adds more (a top-sites list such as Tranco's).
var knownDomains = []string{
	"msftncsi.com", "msftconnecttest.com", "crwdcntrl.net", "fastlylb.net", "jsdelivr.net",
	"ctnsnet.com",
}

// loadDomainList reads registrable domains, one per line or as the first
// domain field of a CSV line (Tranco's "rank,domain"), with # comments:
// the format --dga-allow takes. Names below a registrable domain stand
// for it.
func loadDomainList(path string, into map[string]bool) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("detect: --dga-allow: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n, line := 0, 0
	for sc.Scan() {
		line++
		s := stripBOM(line, sc.Text())
		if i := strings.IndexByte(s, '#'); i >= 0 {
			s = s[:i]
		}
		for _, fld := range strings.FieldsFunc(s, listSep) {
			if d := parseDomain(strings.Trim(fld, `"'`)); d != "" {
				if rd, _ := registrable(d); rd != "" {
					into[strings.Clone(rd)] = true // not a substring keeping its line
					n++
				}
				break
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("detect: --dga-allow %s: line %d: %w", path, line+1, err)
	}
	if n == 0 {
		return fmt.Errorf("detect: --dga-allow %s: no domain names in %d lines", path, line)
	}
	return nil
}

// dgaLabel is the part of a registrable label that is scored.
func dgaLabel(label string) string {
	for _, t := range infraTokens {
		if strings.Contains(label, t) {
			label = strings.ReplaceAll(label, t, "")
		}
	}
	return label
}

// entropyOf is the Shannon entropy of s in bits per character, ignoring
// dots.
func entropyOf(s string) float64 {
	var counts [256]int
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '.' {
			counts[s[i]]++
			n++
		}
	}
	h := 0.0
	for _, k := range counts {
		if k > 0 {
			p := float64(k) / float64(n)
			h -= p * math.Log2(p)
		}
	}
	return h
}
