variable "environment" {
  description = "Environment name, part of every resource name."
  type        = string
  default     = "production"
}

variable "region" {
  description = "AWS region of the stack (Chime meetings, S3 sinks and the SQS queue must share it)."
  type        = string
  default     = "us-east-1"
}

variable "availability_zones" {
  description = "The three zones the VPC, the database, Redis and the nodes span."
  type        = list(string)
  default     = ["us-east-1a", "us-east-1b", "us-east-1c"]

  validation {
    condition     = length(var.availability_zones) == 3
    error_message = "The stack spans exactly three availability zones."
  }
}

variable "vpc_cidr" {
  description = "The VPC's address range; split into three public and three private subnets."
  type        = string
  default     = "10.40.0.0/16"
}

variable "kubernetes_version" {
  description = "EKS control plane version."
  type        = string
  default     = "1.31"
}

variable "cluster_admin_cidrs" {
  description = "Networks allowed to reach the EKS API endpoint (operators, CI runners)."
  type        = list(string)
  default     = ["10.40.0.0/16"]
}

variable "kubernetes_namespace" {
  description = "Namespace of the workloads; IRSA trust is bound to <namespace>:<service>."
  type        = string
  default     = "realty"
}

variable "node_instance_types" {
  description = "Instance types of the managed node group."
  type        = list(string)
  default     = ["m6i.large"]
}

variable "db_instance_class" {
  description = "RDS instance class of the primary and the read replica."
  type        = string
  default     = "db.r6g.large"
}

variable "db_allocated_storage" {
  description = "Initial RDS storage in GiB (autoscaling up to ten times this)."
  type        = number
  default     = 100
}

variable "redis_node_type" {
  description = "ElastiCache node type."
  type        = string
  default     = "cache.r6g.large"
}

variable "mail_domain" {
  description = "Domain SES sends from (MAIL_FROM's domain)."
  type        = string
  default     = "realtyforyou.com"
}

variable "photo_cors_origins" {
  description = "Origins allowed to upload photos straight to S3 (LISTINGS_CORS_ORIGINS)."
  type        = list(string)
  default     = ["https://realtyforyou.com", "https://www.realtyforyou.com"]
}

variable "public_zone_name" {
  description = "Route 53 public hosted zone of the site's names; ACM validates the certificates in it."
  type        = string
  default     = "realtyforyou.com"
}

variable "public_domains" {
  description = "Host names the load balancer serves (the Ingress' hosts); the first is the API, rate-limited per address."
  type        = list(string)
  default     = ["api.realtyforyou.com", "www.realtyforyou.com"]
}

variable "photos_domain" {
  description = "Host name the photos are served from (LISTINGS_CDN_BASE_URL)."
  type        = string
  default     = "photos.realtyforyou.com"
}

variable "pages_domains" {
  description = "Host names of the public site."
  type        = list(string)
  default     = ["realtyforyou.com", "www.realtyforyou.com"]
}

variable "pages_origin_domain" {
  description = "Host name of the load balancer serving the public listing pages (created by the AWS Load Balancer Controller)."
  type        = string
  default     = "origin.realtyforyou.com"
}

variable "github_repository" {
  description = "owner/name of the repository whose main branch may push images."
  type        = string
  default     = "realtyforyou/backend"
}

variable "bedrock_model_id" {
  description = "Foundation model media summarises recordings with (MEDIA_BEDROCK_MODEL_ID)."
  type        = string
  default     = "anthropic.claude-3-haiku-20240307-v1:0"
}

variable "log_retention_days" {
  description = "Retention of CloudWatch log groups (VPC flow logs, EKS control plane)."
  type        = number
  default     = 365
}
