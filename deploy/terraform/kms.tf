# Customer-managed keys, rotated yearly. `platform` encrypts logs, secrets, the database,
# Redis, the event queue and Kubernetes secrets; photos and recordings each have their own,
# so access to one bucket's data is granted (and revoked) apart from everything else.

data "aws_iam_policy_document" "platform_key" {
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource is the key itself.
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource is the key itself.
  #checkov:skip=CKV_AWS_109:The account root administers its own key (the default key policy); IAM policies then grant use.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid = "CloudWatchLogsEncrypts"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:Describe*",
    ]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.region}:${local.account_id}:*"]
    }
  }

  # CloudWatch alarms publish to the encrypted alerts topic.
  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # EventBridge delivers Chime's events into the encrypted queue.
  statement {
    sid       = "EventBridgeWritesTheChimeQueue"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "platform" {
  description             = "${local.name}: logs, secrets, database, cache, queues, EKS secrets"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.platform_key.json
}

resource "aws_kms_alias" "platform" {
  name          = "alias/${local.name}-platform"
  target_key_id = aws_kms_key.platform.key_id
}

data "aws_iam_policy_document" "photos_key" {
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource is the key itself.
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource is the key itself.
  #checkov:skip=CKV_AWS_109:The account root administers its own key (the default key policy); IAM policies then grant use.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudFront (OAC) reads SSE-KMS photos for the distribution it serves.
  statement {
    sid       = "CloudFrontDecryptsPhotos"
    actions   = ["kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudfront_distribution.photos.arn]
    }
  }
}

resource "aws_kms_key" "photos" {
  description             = "${local.name}: listing photos (S3 SSE-KMS)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.photos_key.json
}

# The alias listings looks the key up by (LISTINGS_KMS_KEY_ALIAS).
resource "aws_kms_alias" "photos" {
  name          = "alias/realty-listings-photos"
  target_key_id = aws_kms_key.photos.key_id
}

data "aws_iam_policy_document" "recordings_key" {
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource is the key itself.
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource is the key itself.
  #checkov:skip=CKV_AWS_109:The account root administers its own key (the default key policy); IAM policies then grant use.
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # Chime media capture writes SSE-KMS objects (GenerateDataKey); concatenation reads
  # them back (Decrypt). Only on behalf of this account's Chime resources.
  statement {
    sid       = "ChimeMediaPipelinesUseTheKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["mediapipelines.chime.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:chime:*:${local.account_id}:*"]
    }
  }
}

resource "aws_kms_key" "recordings" {
  description             = "${local.name}: tour recordings (S3 SSE-KMS, Chime media pipelines)"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.recordings_key.json
}

# The alias media names the key by (MEDIA_RECORDINGS_KMS_KEY).
resource "aws_kms_alias" "recordings" {
  name          = "alias/realty-recordings"
  target_key_id = aws_kms_key.recordings.key_id
}
