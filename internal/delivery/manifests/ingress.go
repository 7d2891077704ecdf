package manifests

import (
	"regexp"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// IngressRoute is one path of an Ingress, resolved to its backend.
type IngressRoute struct {
	Route
	Host string
	// Match and Rewrite are the regular expression and rewrite target of a
	// regex path (ingress-nginx's use-regex/rewrite-target); empty for
	// Prefix paths.
	Match, Rewrite string
}

// Forward returns the path the backend sees for a request path, and whether
// the route takes the request at all (ignoring longer routes that win).
func (r IngressRoute) Forward(path string) (string, bool) {
	if r.Match == "" {
		// Kubernetes's Prefix: whole path elements, a trailing slash
		// ignored (/api/ matches /api and /api/x, not /apix).
		p := strings.TrimSuffix(r.Prefix, "/")
		return path, p == "" || path == p || strings.HasPrefix(path, p+"/")
	}
	// ingress-nginx turns a regex path into a case-insensitive location
	// anchored at the start.
	re, err := regexp.Compile("(?i)^" + r.Match)
	if err != nil {
		return "", false
	}
	m := re.FindStringSubmatchIndex(path)
	if m == nil {
		return "", false
	}
	return string(re.ExpandString(nil, r.Rewrite, path, m)), true
}

const (
	annotationRegex   = "nginx.ingress.kubernetes.io/use-regex"
	annotationRewrite = "nginx.ingress.kubernetes.io/rewrite-target"
)

// regexPrefix turns a regex path of the form `<literal prefix>(.*)` back
// into its literal prefix.
func regexPrefix(p string) (string, bool) {
	rest, ok := strings.CutSuffix(p, "(.*)")
	if !ok {
		return "", false
	}
	lit := strings.ReplaceAll(rest, `\.`, ".")
	if regexp.QuoteMeta(lit) != rest {
		return "", false
	}
	return lit, true
}

// Routes lists the routes of every Ingress.
func (s *Set) Routes() ([]IngressRoute, []string) {
	var out []IngressRoute
	var problems []string
	for _, ing := range s.Ingresses {
		id := "Ingress/" + ing.Namespace + "/" + ing.Name
		regex := ing.Annotations[annotationRegex] == "true"
		rewrite := ing.Annotations[annotationRewrite]
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				r := IngressRoute{Host: rule.Host, Route: Route{Namespace: ing.Namespace}}
				if p.Backend.Service == nil {
					problems = append(problems, id+": path "+p.Path+" has no Service backend")
					continue
				}
				r.Service = p.Backend.Service.Name
				r.Port = p.Backend.Service.Port.Name
				pt := networkingv1.PathTypeImplementationSpecific
				if p.PathType != nil {
					pt = *p.PathType
				}
				switch {
				case pt == networkingv1.PathTypePrefix && !regex && rewrite == "":
					r.Prefix = p.Path
				case pt == networkingv1.PathTypeImplementationSpecific && regex && rewrite == "/$1":
					prefix, ok := regexPrefix(p.Path)
					if !ok {
						problems = append(problems, id+": regex path "+p.Path+" is not <prefix>(.*)")
						continue
					}
					r.Prefix, r.Match, r.Rewrite, r.StripPrefix = prefix, p.Path, rewrite, true
				default:
					problems = append(problems, id+": path "+p.Path+" is neither a plain Prefix path nor a regex path rewritten to /$1")
					continue
				}
				out = append(out, r)
			}
		}
	}
	slices.SortFunc(out, func(a, b IngressRoute) int { return strings.Compare(a.Prefix, b.Prefix) })
	return out, problems
}

func (c *checker) ingresses() {
	svcs := map[string]map[string]bool{}
	for _, svc := range c.s.Services {
		ports := map[string]bool{}
		for _, p := range svc.Spec.Ports {
			ports[p.Name] = true
		}
		svcs[svc.Namespace+"/"+svc.Name] = ports
	}
	hosts := map[string]bool{}
	for _, ing := range c.s.Ingresses {
		if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
			c.fail("Ingress/%s/%s: ingressClassName must be nginx", ing.Namespace, ing.Name)
		}
		for _, rule := range ing.Spec.Rules {
			hosts[rule.Host] = true
		}
	}
	if len(hosts) > 1 {
		c.fail("the Ingresses serve several hosts %v; the browser needs one origin", slices.Sorted(mapKeys(hosts)))
	}
	routes, problems := c.s.Routes()
	for _, p := range problems {
		c.fail("%s", p)
	}
	for _, r := range routes {
		ports, ok := svcs[r.Namespace+"/"+r.Service]
		if !ok {
			c.fail("Ingress route %s: Service %s/%s does not exist", r.Prefix, r.Namespace, r.Service)
			continue
		}
		if r.Port == "" || !ports[r.Port] {
			c.fail("Ingress route %s: Service %s/%s has no port named %q", r.Prefix, r.Namespace, r.Service, r.Port)
		}
	}
	var got []Route
	for _, r := range routes {
		got = append(got, r.Route)
	}
	if want := WebRoutes(); !slices.Equal(got, want) {
		c.fail("the Ingress routes %v differ from the local stack's %v", got, want)
	}
}
