package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"github.com/gosimple/slug"
	"github.com/jeremywohl/flatten"
	"github.com/valyala/fasttemplate"
	"io"
	"sigs.k8s.io/yaml"
)

type tcase struct {
	Mode string          `json:"mode"`
	T    string          `json:"t"`
	D    json.RawMessage `json:"d"`
	MK   string          `json:"mk"`
	Name *string         `json:"name"`
}
type result struct {
	Out *string `json:"out,omitempty"`
	Err *string `json:"err,omitempty"`
}

func conv(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]interface{}:
		for k, e := range x {
			x[k] = conv(e)
		}
		return x
	case []interface{}:
		for i, e := range x {
			x[i] = conv(e)
		}
		return x
	}
	return v
}

func sanitizeName(name string) string {
	invalidDNSNameChars := regexp.MustCompile("[^-a-z0-9.]")
	name = strings.ToLower(name)
	name = invalidDNSNameChars.ReplaceAllString(name, "-")
	if len(name) > 253 {
		name = name[:253]
	}
	return strings.Trim(name, "-.")
}
func slugifyName(args ...interface{}) string {
	maxSize := 50
	smart := true
	name := ""
	for idx, arg := range args {
		switch idx {
		case len(args) - 1:
			name = arg.(string)
		case 0:
			maxSize = arg.(int)
		case 1:
			smart = arg.(bool)
		}
	}
	s := sanitizeName(name)
	slug.EnableSmartTruncate = smart
	slug.MaxLength = maxSize
	return slug.Make(s)
}
func toYAML(v any) (string, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}
func fromYAML(str string) (map[string]any, error) {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(str), &m); err != nil {
		return nil, err
	}
	return m, nil
}
func fromYAMLArray(str string) ([]any, error) {
	a := []any{}
	if err := yaml.Unmarshal([]byte(str), &a); err != nil {
		return nil, err
	}
	return a, nil
}

func main() {
	fm := sprig.GenericFuncMap()
	delete(fm, "env")
	delete(fm, "expandenv")
	delete(fm, "getHostByName")
	fm["normalize"] = sanitizeName
	fm["slugify"] = slugifyName
	fm["toYaml"] = toYAML
	fm["fromYaml"] = fromYAML
	fm["fromYamlArray"] = fromYAMLArray
	fm["tpl"] = func(string, any) (string, error) { return "", nil } // replaced per template
	var cases []tcase
	dec := json.NewDecoder(os.Stdin)
	if err := dec.Decode(&cases); err != nil {
		panic(err)
	}
	res := make([]result, len(cases))
	for i, c := range cases {
		res[i] = run(c, fm)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	enc.Encode(res)
}

func run(c tcase, fm map[string]interface{}) (r result) {
	defer func() {
		if p := recover(); p != nil {
			s := fmt.Sprintf("PANIC: %v", p)
			r = result{Err: &s}
		}
	}()
	if c.Mode == "fast" {
		var params map[string]interface{}
		json.Unmarshal(c.D, &params)
		return fastReplace(c.T, params)
	}
	if c.Mode == "flatten" {
		var obj map[string]interface{}
		json.Unmarshal(c.D, &obj)
		flat, err := flatten.Flatten(obj, "", flatten.DotStyle)
		if err != nil {
			s := err.Error()
			return result{Err: &s}
		}
		out := map[string]string{}
		for k, v := range flat {
			out[k] = fmt.Sprintf("%v", v)
		}
		b, _ := json.Marshal(out)
		s := string(b)
		return result{Out: &s}
	}
	var data interface{}
	if c.Mode == "json" && len(c.D) > 0 {
		// As Argo CD hands parameters to templates: encoding/json, every number a float64.
		if err := json.Unmarshal(c.D, &data); err != nil {
			panic(err)
		}
	} else if len(c.D) > 0 {
		d := json.NewDecoder(bytes.NewReader(c.D))
		d.UseNumber()
		if err := d.Decode(&data); err != nil {
			panic(err)
		}
		data = conv(data)
	}
	name := ""
	if c.Name != nil {
		name = *c.Name
	}
	t := template.New(name).Funcs(fm)
	if c.MK != "" {
		t = t.Option("missingkey=" + c.MK)
	}
	t = t.Funcs(template.FuncMap{"tpl": tplFun(t)})
	t, err := t.Parse(c.T)
	if err != nil {
		s := err.Error()
		return result{Err: &s}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		s := err.Error()
		return result{Err: &s}
	}
	s := buf.String()
	return result{Out: &s}
}

var isTemplatedRegex = regexp.MustCompile(".*{{.*}}.*")

func fastReplace(tmpl string, replaceMap map[string]interface{}) result {
	if !isTemplatedRegex.MatchString(tmpl) {
		return result{Out: &tmpl}
	}
	fstTmpl, err := fasttemplate.NewTemplate(tmpl, "{{", "}}")
	if err != nil {
		s := fmt.Errorf("invalid template: %w", err).Error()
		return result{Err: &s}
	}
	replacedTmpl := fstTmpl.ExecuteFuncString(func(w io.Writer, tag string) (int, error) {
		trimmedTag := strings.TrimSpace(tag)
		replacement, ok := replaceMap[trimmedTag].(string)
		if len(trimmedTag) == 0 || !ok {
			return w.Write([]byte(fmt.Sprintf("{{%s}}", tag)))
		}
		return w.Write([]byte(replacement))
	})
	return result{Out: &replacedTmpl}
}

// tplFun is Argo CD's `tpl` (applicationset/utils/template_functions.go).
func tplFun(parent *template.Template) func(string, any) (string, error) {
	return func(tpl string, vals any) (string, error) {
		t, err := parent.Clone()
		if err != nil {
			return "", fmt.Errorf("cannot clone template: %w", err)
		}
		t, err = t.New(parent.Name()).Parse(tpl)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", tpl, err)
		}
		var buf strings.Builder
		if err := t.Execute(&buf, vals); err != nil {
			return "", fmt.Errorf("error during tpl function execution for %q: %w", tpl, err)
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
}
