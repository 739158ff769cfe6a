{{/*
Names, labels and shared pieces. Every object name derives from "dubbo-dns.fullname" (63
characters at most: names are DNS labels), every label set from "dubbo-dns.labels".
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "dubbo-dns.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: the release name when it already contains the chart name. */}}
{{- define "dubbo-dns.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Name of the controller's objects (Deployment, ServiceAccount, RBAC, Lease). */}}
{{- define "dubbo-dns.controllerName" -}}
{{- printf "%s-controller" (include "dubbo-dns.fullname" . | trunc 52 | trimSuffix "-") }}
{{- end }}

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "dubbo-dns.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The image tag: image.tag, else appVersion. */}}
{{- define "dubbo-dns.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag }}
{{- end }}

{{/* repository:tag of the image. */}}
{{- define "dubbo-dns.image" -}}
{{- printf "%s:%s" .Values.image.repository (include "dubbo-dns.tag" .) }}
{{- end }}

{{/*
Standard labels (app.kubernetes.io/*), commonLabels last so they win.
Call with (dict "ctx" $ "component" "dns"|"controller"|"metrics"|"") .
*/}}
{{- define "dubbo-dns.labels" -}}
{{- $ctx := .ctx }}
{{- $labels := dict
  "helm.sh/chart" (include "dubbo-dns.chart" $ctx)
  "app.kubernetes.io/name" (include "dubbo-dns.name" $ctx)
  "app.kubernetes.io/instance" $ctx.Release.Name
  "app.kubernetes.io/version" (include "dubbo-dns.tag" $ctx)
  "app.kubernetes.io/managed-by" $ctx.Release.Service
  "app.kubernetes.io/part-of" "dubbo-dns" }}
{{- with .component }}
{{- $_ := set $labels "app.kubernetes.io/component" . }}
{{- end }}
{{- $all := mergeOverwrite $labels $ctx.Values.commonLabels }}
{{- if eq (get $all "app.kubernetes.io/managed-by") "dubbo-dns" }}
{{- fail "commonLabels: app.kubernetes.io/managed-by=dubbo-dns marks the Services the controller owns; the chart's objects must not carry it" }}
{{- end }}
{{- toYaml $all }}
{{- end }}

{{/*
Selector labels of one component (immutable in a Deployment: never add to them).
Call with (dict "ctx" $ "component" "dns"|"controller").
*/}}
{{- define "dubbo-dns.selectorLabels" -}}
app.kubernetes.io/name: {{ include "dubbo-dns.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- end }}

{{/* The DNS server's ServiceAccount. */}}
{{- define "dubbo-dns.dnsServiceAccountName" -}}
{{- if .Values.dns.serviceAccount.create }}
{{- default (include "dubbo-dns.fullname" .) .Values.dns.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.dns.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The controller's ServiceAccount. */}}
{{- define "dubbo-dns.controllerServiceAccountName" -}}
{{- if .Values.controller.serviceAccount.create }}
{{- default (include "dubbo-dns.controllerName" .) .Values.controller.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.controller.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
What the controller may do where it works: read what declares providers (DubboServices, Pods),
write Services and EndpointSlices (server-side apply creates with PATCH, so create and patch),
write DubboService status, record Events.
*/}}
{{- define "dubbo-dns.controllerRules" -}}
- apiGroups: [dubbo-dns.io]
  resources: [dubboservices]
  verbs: [get, list, watch]
- apiGroups: [dubbo-dns.io]
  resources: [dubboservices/status]
  verbs: [patch]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
- apiGroups: [""]
  resources: [services]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end }}

{{/* What the DNS server may do: read the managed Services and EndpointSlices (label-selected). */}}
{{- define "dubbo-dns.dnsRules" -}}
- apiGroups: [""]
  resources: [services]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
{{- end }}

{{/*
topologySpreadConstraints of one component; a constraint without labelSelector selects the
component's own pods. Call with (dict "ctx" $ "component" "dns" "constraints" list).
*/}}
{{- define "dubbo-dns.topologySpread" -}}
{{- range .constraints }}
- {{ toYaml . | nindent 2 | trim }}
  {{- if not (hasKey . "labelSelector") }}
  labelSelector:
    matchLabels:
      {{- include "dubbo-dns.selectorLabels" (dict "ctx" $.ctx "component" $.component) | nindent 6 }}
  {{- end }}
{{- end }}
{{- end }}

{{/* prometheus.io/* pod annotations for a component's metrics port. Call with (dict "ctx" $ "port" N). */}}
{{- define "dubbo-dns.scrapeAnnotations" -}}
{{- if .ctx.Values.metrics.podAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}

{{/* A PodDisruptionBudget's spec fields. Call with the component's podDisruptionBudget values. */}}
{{- define "dubbo-dns.pdbSpec" -}}
{{- if not (kindIs "invalid" .minAvailable) }}
minAvailable: {{ .minAvailable }}
{{- else }}
maxUnavailable: {{ .maxUnavailable }}
{{- end }}
{{- end }}
