{{/* Names, labels and the small decisions more than one template shares. */}}

{{- define "devx.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Object names: the release name, with the chart name added unless it is in there already (`devx` → `devx`). */}}
{{- define "devx.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "devx.selectorLabels" -}}
app.kubernetes.io/name: {{ include "devx.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The labels every object carries besides its name and component. */}}
{{- define "devx.releaseLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{- define "devx.labels" -}}
app.kubernetes.io/name: {{ include "devx.name" . }}
app.kubernetes.io/component: webhook
{{ include "devx.releaseLabels" . }}
{{- end -}}

{{- define "devx.serviceAccountName" -}}
{{- default (include "devx.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "devx.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Namespaces the API server never sends to devx: kube-system, devx's own, and any the user adds. The same rule
     as excludedNamespaces in src/k8s/register-webhooks.ts (deduplicated, sorted); a test compares the two. */}}
{{- define "devx.excludedNamespaces" -}}
{{- concat (list "kube-system" .Release.Namespace) .Values.webhook.excludedNamespaces | uniq | sortAlpha | toJson -}}
{{- end -}}

{{/* Whether devx serves a certificate from files (cert-manager or a user's Secret) instead of making its own. */}}
{{- define "devx.tlsFromFiles" -}}
{{- if has .Values.tls.mode (list "cert-manager" "secret") -}}true{{- end -}}
{{- end -}}

{{/* The Secret with tls.crt and tls.key that devx serves from, in the file-based modes. */}}
{{- define "devx.tlsSecretName" -}}
{{- if eq .Values.tls.mode "cert-manager" -}}
{{- printf "%s-serving-cert" (include "devx.fullname" .) -}}
{{- else -}}
{{- required "tls.secret.name is required with tls.mode=secret: a kubernetes.io/tls Secret in the release namespace" .Values.tls.secret.name -}}
{{- end -}}
{{- end -}}

{{- define "devx.certificateName" -}}
{{- printf "%s-serving" (include "devx.fullname" .) -}}
{{- end -}}

{{/* caBundle of the webhook configurations: only the user's Secret mode states it. Self-managed devx patches it in
     itself; with cert-manager the cainjector does. Left out of the manifest, so `helm upgrade` never resets it. */}}
{{- define "devx.caBundle" -}}
{{- if eq .Values.tls.mode "secret" -}}
{{- required "tls.secret.caBundle is required with tls.mode=secret: the base64 PEM of the CA that signed the Secret's certificate" .Values.tls.secret.caBundle -}}
{{- end -}}
{{- end -}}

{{- define "devx.webhookAnnotations" -}}
{{- if eq .Values.tls.mode "cert-manager" -}}
cert-manager.io/inject-ca-from: {{ printf "%s/%s" .Release.Namespace (include "devx.certificateName" .) }}
{{- end -}}
{{- end -}}
