# One IAM role per process, assumed through the cluster's OIDC provider by that process's
# Kubernetes service account only (IRSA). Each policy allows exactly the AWS operations the
# process's code calls, on its own resources; tests/deploy/test_terraform_iam.py reads the
# boto3 calls from the source and holds these documents to them, in both directions.

data "aws_iam_policy_document" "irsa_trust" {
  for_each = toset(local.services)

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.eks.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${replace(aws_iam_openid_connect_provider.eks.url, "https://", "")}:sub"
      values   = ["system:serviceaccount:${var.kubernetes_namespace}:${each.value}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${replace(aws_iam_openid_connect_provider.eks.url, "https://", "")}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "service" {
  for_each           = toset(local.services)
  name               = "${local.name}-${each.value}"
  description        = "IRSA role of the ${each.value} service account"
  assume_role_policy = data.aws_iam_policy_document.irsa_trust[each.value].json
}

locals {
  ses_identity_arn   = aws_sesv2_email_identity.domain.arn
  ses_config_set_arn = aws_sesv2_configuration_set.main.arn
  photos_bucket_arn  = aws_s3_bucket.data["photos"].arn
}

# identity: account mail (verification, password reset) through SES v2.
data "aws_iam_policy_document" "irsa_identity" {
  statement {
    sid       = "SendAccountMail"
    actions   = ["ses:SendEmail"]
    resources = [local.ses_identity_arn, local.ses_config_set_arn]
  }
}

# scheduling: tour confirmations and calendar invitations through SES v2.
data "aws_iam_policy_document" "irsa_scheduling" {
  statement {
    sid       = "SendTourMail"
    actions   = ["ses:SendEmail"]
    resources = [local.ses_identity_arn, local.ses_config_set_arn]
  }
}

# listings: the photos bucket and its key (storage.py), and page invalidations (pages/cdn.py).
data "aws_iam_policy_document" "irsa_listings" {
  # At start listings makes sure its bucket exists and is configured (ensure_ready): on
  # the bucket Terraform made, these only re-apply what this file already says.
  statement {
    sid = "ConfigurePhotosBucket"
    actions = [
      "s3:CreateBucket",
      "s3:PutEncryptionConfiguration",
      "s3:PutBucketPublicAccessBlock",
      "s3:PutBucketCORS",
    ]
    resources = [local.photos_bucket_arn]
  }

  # Presigned POST uploads (signed with this role), reads of the first bytes, deletions.
  statement {
    sid       = "PhotoObjects"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"]
    resources = ["${local.photos_bucket_arn}/*"]
  }

  # SSE-KMS: an upload needs a data key, a read needs it decrypted; DescribeKey resolves
  # the alias at start.
  statement {
    sid       = "PhotosKey"
    actions   = ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.photos.arn]
  }

  statement {
    sid       = "InvalidatePages"
    actions   = ["cloudfront:CreateInvalidation"]
    resources = [aws_cloudfront_distribution.pages.arn]
  }
}

# media: Chime SDK meetings, transcription and media pipelines (chime.py), the recordings
# bucket (storage.py), summaries by Bedrock (summaries.py), the Chime event queue
# (queue.py), invitations by SES. MEDIA_RECORDINGS_PROVISION=false in production: the
# bucket and key are Terraform's, media never creates or reconfigures them.
data "aws_iam_policy_document" "irsa_media" {
  # A tour's meeting is made with its first attendees (CreateMeetingWithAttendees): the
  # call names no meeting yet, so it cannot be scoped to one; it is held to this stack's
  # region.
  statement {
    sid       = "CreateMeetings"
    actions   = ["chime:CreateMeetingWithAttendees"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestedRegion"
      values   = [var.region]
    }
  }

  # Transcription runs through Chime's own service-linked role (storage.tf,
  # chime_transcription): media itself needs no transcribe: action.
  statement {
    sid = "ManageMeetingsAndAttendees"
    actions = [
      "chime:CreateAttendee",
      "chime:BatchCreateAttendee",
      "chime:GetAttendee",
      "chime:UpdateAttendeeCapabilities",
      "chime:DeleteAttendee",
      "chime:DeleteMeeting",
      "chime:StartMeetingTranscription",
      "chime:StopMeetingTranscription",
    ]
    resources = ["arn:${local.partition}:chime:${var.region}:${local.account_id}:meeting/*"]
  }

  statement {
    sid = "RecordMeetings"
    actions = [
      "chime:CreateMediaCapturePipeline",
      "chime:CreateMediaConcatenationPipeline",
      "chime:DeleteMediaCapturePipeline",
    ]
    resources = [
      "arn:${local.partition}:chime:${var.region}:${local.account_id}:media-pipeline/*",
      "arn:${local.partition}:chime:${var.region}:${local.account_id}:meeting/*",
    ]
  }

  # Creating a capture pipeline checks the sink bucket's policy as the caller, and hands
  # Chime the sink role that writes SSE-KMS objects.
  statement {
    sid       = "CheckRecordingsSink"
    actions   = ["s3:GetBucketPolicy", "s3:ListBucket"]
    resources = [aws_s3_bucket.data["recordings"].arn]
  }

  statement {
    sid       = "HandChimeTheSinkRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.capture_sink.arn]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["mediapipelines.chime.amazonaws.com"]
    }
  }

  # Transcripts are read back, recordings played by presigned GET, deleted by prefix.
  statement {
    sid       = "RecordingObjects"
    actions   = ["s3:GetObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.data["recordings"].arn}/*"]
  }

  statement {
    sid       = "RecordingsKey"
    actions   = ["kms:DescribeKey", "kms:Decrypt"]
    resources = [aws_kms_key.recordings.arn, aws_kms_key.platform.arn]
  }

  # Converse is authorised as InvokeModel, on the one model media is configured with.
  statement {
    sid       = "SummariseWithBedrock"
    actions   = ["bedrock:InvokeModel"]
    resources = ["arn:${local.partition}:bedrock:${var.region}::foundation-model/${var.bedrock_model_id}"]
  }

  # CreateQueue on the existing queue answers its URL (ensure_ready); then long polling
  # and deleting what was handled. The queue is SSE-KMS: reads decrypt (platform key above).
  statement {
    sid       = "ReadChimeEvents"
    actions   = ["sqs:CreateQueue", "sqs:ReceiveMessage", "sqs:DeleteMessage"]
    resources = [aws_sqs_queue.chime_events.arn]
  }

  statement {
    sid       = "SendInvitations"
    actions   = ["ses:SendEmail"]
    resources = [local.ses_identity_arn, local.ses_config_set_arn]
  }
}

locals {
  # analytics and the gateway call no AWS API: their roles carry no policy at all.
  service_policies = {
    identity   = data.aws_iam_policy_document.irsa_identity.json
    listings   = data.aws_iam_policy_document.irsa_listings.json
    scheduling = data.aws_iam_policy_document.irsa_scheduling.json
    media      = data.aws_iam_policy_document.irsa_media.json
  }
}

resource "aws_iam_role_policy" "service" {
  for_each = local.service_policies
  name     = "${each.key}-aws-calls"
  role     = aws_iam_role.service[each.key].id
  policy   = each.value
}

# Every process reads its own secret (External Secrets, with the process's own role).
data "aws_iam_policy_document" "read_own_secret" {
  for_each = toset(local.services)

  statement {
    sid       = "ReadOwnSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [aws_secretsmanager_secret.service[each.value].arn]
  }

  statement {
    sid       = "DecryptOwnSecret"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.platform.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${var.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "read_own_secret" {
  for_each = toset(local.services)
  name     = "read-own-secret"
  role     = aws_iam_role.service[each.value].id
  policy   = data.aws_iam_policy_document.read_own_secret[each.value].json
}
