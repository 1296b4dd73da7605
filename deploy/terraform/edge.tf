# The public edge's certificates and the load balancer's WAF. Both certificates are issued
# by ACM and validated by DNS in the public hosted zone, so no ARN is typed in by hand:
# `public` for the ALB the AWS Load Balancer Controller makes (the api and www hosts of
# deploy/k8s/base/gateway/ingress.yaml, in the stack's region), `cdn` for CloudFront (the
# photo and page hosts, in us-east-1 as CloudFront requires). The ARNs reach the Kubernetes
# production overlay through outputs.tf (deploy/k8s/terraform_outputs.py).

data "aws_route53_zone" "public" {
  name         = var.public_zone_name
  private_zone = false
}

resource "aws_acm_certificate" "public" {
  domain_name               = var.public_domains[0]
  subject_alternative_names = slice(var.public_domains, 1, length(var.public_domains))
  validation_method         = "DNS"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_acm_certificate" "cdn" {
  provider                  = aws.us_east_1
  domain_name               = var.photos_domain
  subject_alternative_names = var.pages_domains
  validation_method         = "DNS"

  options {
    certificate_transparency_logging_preference = "ENABLED"
  }

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  # One validation record per host name; a host on both certificates (www) has the same
  # record for both, as ACM makes it per account and name.
  certificate_validations = {
    for option in concat(
      tolist(aws_acm_certificate.public.domain_validation_options),
      tolist(aws_acm_certificate.cdn.domain_validation_options),
    ) : option.domain_name => option...
  }
}

resource "aws_route53_record" "certificate_validation" {
  for_each        = local.certificate_validations
  zone_id         = data.aws_route53_zone.public.zone_id
  name            = each.value[0].resource_record_name
  type            = each.value[0].resource_record_type
  records         = [each.value[0].resource_record_value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "public" {
  certificate_arn = aws_acm_certificate.public.arn
  validation_record_fqdns = [
    for name in concat([aws_acm_certificate.public.domain_name], tolist(aws_acm_certificate.public.subject_alternative_names)) :
    aws_route53_record.certificate_validation[name].fqdn
  ]
}

resource "aws_acm_certificate_validation" "cdn" {
  provider        = aws.us_east_1
  certificate_arn = aws_acm_certificate.cdn.arn
  validation_record_fqdns = [
    for name in concat([aws_acm_certificate.cdn.domain_name], tolist(aws_acm_certificate.cdn.subject_alternative_names)) :
    aws_route53_record.certificate_validation[name].fqdn
  ]
}

# The regional web ACL the ALB is associated with (the Ingress' wafv2-acl-arn): AWS's
# common and known-bad-input rule sets, anonymising networks counted, and a per-address
# rate limit on the API host. The public pages reach the ALB through CloudFront, whose own
# web ACL (cdn.tf) limits each viewer; here they would share CloudFront's addresses.
resource "aws_wafv2_web_acl" "edge" {
  name  = "${local.name}-edge"
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "common"
    priority = 1
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesCommonRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "common"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "known-bad-inputs"
    priority = 2
    override_action {
      none {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "known-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "anonymous-ip"
    priority = 3
    override_action {
      count {}
    }
    statement {
      managed_rule_group_statement {
        vendor_name = "AWS"
        name        = "AWSManagedRulesAnonymousIpList"
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "anonymous-ip"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "api-rate-per-address"
    priority = 4
    action {
      block {}
    }
    statement {
      rate_based_statement {
        limit              = 2000
        aggregate_key_type = "IP"
        scope_down_statement {
          byte_match_statement {
            search_string         = var.public_domains[0]
            positional_constraint = "EXACTLY"
            field_to_match {
              single_header {
                name = "host"
              }
            }
            text_transformation {
              priority = 0
              type     = "LOWERCASE"
            }
          }
        }
      }
    }
    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "api-rate-per-address"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${local.name}-edge"
    sampled_requests_enabled   = true
  }
}

# Logs in the stack's region under the platform key (whose policy lets CloudWatch Logs
# there use it); the group's name must start with "aws-waf-logs-".
resource "aws_cloudwatch_log_group" "waf_edge" {
  name              = "aws-waf-logs-${local.name}-edge"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.platform.arn
}

resource "aws_wafv2_web_acl_logging_configuration" "edge" {
  resource_arn            = aws_wafv2_web_acl.edge.arn
  log_destination_configs = [aws_cloudwatch_log_group.waf_edge.arn]
}
