package detect

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/oschwald/maxminddb-golang/v2"
)

// geoIP enriches alert addresses from a MaxMind database (GeoLite2/GeoIP2
// Country, City or ASN, or any .mmdb with the same field names). Private,
// loopback and link-local addresses are not looked up.
type geoIP struct {
	db   *maxminddb.Reader
	path string
	// warned is set once a record failed to decode (a database whose
	// fields have other types than MaxMind's), so that is said once.
	warned bool
}

type mmdbRecord struct {
	Country struct {
		ISOCode string            `maxminddb:"iso_code"`
		Names   map[string]string `maxminddb:"names"`
	} `maxminddb:"country"`
	City struct {
		Names map[string]string `maxminddb:"names"`
	} `maxminddb:"city"`
	ASN   uint   `maxminddb:"autonomous_system_number"`
	ASOrg string `maxminddb:"autonomous_system_organization"`
}

func openGeoIP(path string) (*geoIP, error) {
	db, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("geoip %s: %w", path, err)
	}
	// Checked whole once at start: a damaged file (a download cut short,
	// a bad copy) would otherwise fail each lookup that reaches the damage,
	// and those alerts would quietly go without enrichment.
	if err := db.Verify(); err != nil {
		db.Close()
		return nil, fmt.Errorf("geoip %s: not a valid MaxMind database: %w", path, err)
	}
	return &geoIP{db: db, path: path}, nil
}

func (g *geoIP) lookup(a netip.Addr) *Geo {
	if !a.IsValid() || a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
		return nil
	}
	var r mmdbRecord
	res := g.db.Lookup(a)
	if !res.Found() {
		return nil
	}
	if err := res.Decode(&r); err != nil {
		if !g.warned {
			g.warned = true
			slog.Warn("geoip: a record does not decode; alerts it would enrich go without (said once)", "file", g.path, "addr", a, "err", err)
		}
		return nil
	}
	geo := &Geo{CountryISO: r.Country.ISOCode, CountryName: r.Country.Names["en"], CityName: r.City.Names["en"], ASN: r.ASN, ASOrg: r.ASOrg}
	if geo.empty() {
		return nil
	}
	return geo
}

func (g *geoIP) close() error { return g.db.Close() }
