{{/* The chart name, or nameOverride. */}}
{{- define "axle.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object name: fullnameOverride, else the release name (plus the chart name
unless the release name already contains it). Short enough for "-hub-secret-key" to fit in 63.
*/}}
{{- define "axle.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 48 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 48 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 48 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "axle.hub.fullname" -}}{{ include "axle.fullname" . }}-hub{{- end -}}
{{- define "axle.agent.fullname" -}}{{ include "axle.fullname" . }}-agent{{- end -}}

{{- define "axle.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels of every object; call with (dict "ctx" $ "component" "hub"). */}}
{{- define "axle.labels" -}}
helm.sh/chart: {{ include "axle.chart" .ctx }}
{{ include "axle.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: axle
{{- end -}}

{{- define "axle.selectorLabels" -}}
app.kubernetes.io/name: {{ include "axle.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "axle.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* The hub Service's in-cluster DNS name (what agents in this cluster dial). */}}
{{- define "axle.hub.serviceHost" -}}
{{- printf "%s.%s.svc" (include "axle.hub.fullname" .) .Release.Namespace -}}
{{- end -}}

{{/* Where AXLE_SECRET_KEY comes from: "existing", "chart" (value or generated) or "". */}}
{{- define "axle.hub.secretKeySource" -}}
{{- if .Values.hub.secretKey.existingSecret -}}existing
{{- else if or .Values.hub.secretKey.value .Values.hub.secretKey.generate -}}chart
{{- end -}}
{{- end -}}

{{/* The agent's enrollment address: agent.hubEnrollAddress, else hubAddress's host, port 9091. */}}
{{- define "axle.agent.enrollAddress" -}}
{{- if .Values.agent.hubEnrollAddress -}}
{{- .Values.agent.hubEnrollAddress -}}
{{- else -}}
{{- regexReplaceAll ":[0-9]+$" .Values.agent.hubAddress ":9091" -}}
{{- end -}}
{{- end -}}
