package manifests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
)

// Wait is what to wait for after a stage is applied: kubectl's --for
// argument (condition=Ready, jsonpath=...), or "rollout" for a Deployment's
// rollout status.
type Wait struct {
	Kind, Namespace, Name string
	For                   string
	// Group is the kind's API group ("" for the core group and apps,
	// batch, ...: kubectl knows those by kind alone).
	Group string
}

// Resource is the name kubectl takes: kind.group/name, qualified for the
// operators' kinds so that another "Cluster" kind cannot be meant.
func (w Wait) Resource() string {
	r := strings.ToLower(w.Kind)
	if w.Group != "" {
		r += "." + w.Group
	}
	return r + "/" + w.Name
}

// Rollout waits until a Deployment's new pods are all ready.
const Rollout = "rollout"

// Stage is a group of objects applied together, then waited for.
type Stage struct {
	Name    string
	Objects []Object
	Waits   []Wait
}

// The stages, in order. Migrations come after the database and before every
// Deployment: the migrator Job must complete before the server rolls out.
const (
	StageNamespaces = "namespaces"
	StageConfig     = "config"     // certificates, bundles, config, services, policies
	StageDatabase   = "database"   // the CloudNativePG cluster and databases
	StageMigrations = "migrations" // the Jobs: migrator, kratos-migrate
	StageWorkloads  = "workloads"  // Deployments and Ingresses
)

func stageOf(kind string) (string, string) {
	switch kind {
	case "Namespace":
		return StageNamespaces, ""
	case "ClusterIssuer", "Certificate":
		return StageConfig, "condition=Ready"
	case "ClusterBundle":
		return StageConfig, "condition=Synced"
	case "Cluster":
		return StageDatabase, "condition=Ready"
	case "Database":
		return StageDatabase, "jsonpath={.status.applied}=true"
	case "Job":
		return StageMigrations, "condition=Complete"
	case "Deployment":
		return StageWorkloads, Rollout
	case "Ingress":
		return StageWorkloads, ""
	default:
		return StageConfig, ""
	}
}

// Stages splits objs into the stages they are applied in; empty stages are
// left out.
func Stages(objs []Object) []Stage {
	order := []string{StageNamespaces, StageConfig, StageDatabase, StageMigrations, StageWorkloads}
	byName := map[string]*Stage{}
	for _, n := range order {
		byName[n] = &Stage{Name: n}
	}
	for _, o := range objs {
		name, wait := stageOf(o.Kind)
		st := byName[name]
		st.Objects = append(st.Objects, o)
		if wait != "" {
			group, _, _ := strings.Cut(o.APIVersion, "/")
			if !strings.Contains(group, ".") || strings.HasSuffix(group, ".k8s.io") {
				group = "" // core, apps, batch, networking.k8s.io, ...
			}
			st.Waits = append(st.Waits, Wait{Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, For: wait, Group: group})
		}
	}
	var out []Stage
	for _, n := range order {
		if st := byName[n]; len(st.Objects) > 0 {
			out = append(out, *st)
		}
	}
	return out
}

// Component returns the objects of one component (label
// groundwork.dev/component), as `mage kind:deploy <component>` applies them.
func Component(objs []Object, component string) []Object {
	var out []Object
	for _, o := range objs {
		if o.Label(ComponentLabel) == component {
			out = append(out, o)
		}
	}
	return out
}

// ComponentLabel names the part of the system an object belongs to.
const ComponentLabel = "groundwork.dev/component"

// Pin replaces every container image whose repository (the reference
// without tag or digest) is a key of images with the value, a reference by
// digest, and renames each Job after a hash of its pod template: a Job's
// template cannot change, so each release runs a Job of its own, and
// applying an unchanged release again is a no-op.
func Pin(objs []Object, images map[string]string) error {
	for _, o := range objs {
		for _, ct := range containers(o) {
			img, _ := ct["image"].(string)
			if ref, ok := images[Repository(img)]; ok {
				ct["image"] = ref
			}
		}
	}
	for i := range objs {
		o := &objs[i]
		if o.Kind != "Job" {
			continue
		}
		b, err := json.Marshal(podTemplate(*o))
		if err != nil {
			return fmt.Errorf("hashing %s: %w", o.ID(), err)
		}
		sum := sha256.Sum256(b)
		o.Name = o.Name + "-" + hex.EncodeToString(sum[:])[:10]
		md, _ := o.Map["metadata"].(map[string]any)
		md["name"] = o.Name
	}
	return nil
}

// ContainerImages lists the images of a Deployment's or Job's pod
// template: init containers first, then containers.
func ContainerImages(o Object) []string {
	var out []string
	for _, ct := range containers(o) {
		if img, ok := ct["image"].(string); ok {
			out = append(out, img)
		}
	}
	return out
}

// containers returns the init containers, then the containers, of a
// Deployment's or Job's pod template, as the maps inside o (changing one
// changes o).
func containers(o Object) []map[string]any {
	tmpl := podTemplate(o)
	if tmpl == nil {
		return nil
	}
	spec, _ := tmpl["spec"].(map[string]any)
	var out []map[string]any
	for _, key := range []string{"initContainers", "containers"} {
		cs, _ := spec[key].([]any)
		for _, c := range cs {
			if ct, ok := c.(map[string]any); ok {
				out = append(out, ct)
			}
		}
	}
	return out
}

func podTemplate(o Object) map[string]any {
	if o.Kind != "Deployment" && o.Kind != "Job" {
		return nil
	}
	spec, _ := o.Map["spec"].(map[string]any)
	t, _ := spec["template"].(map[string]any)
	return t
}

// Repository returns an image reference without its tag and digest.
func Repository(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		ref = ref[:i]
	}
	return ref
}
