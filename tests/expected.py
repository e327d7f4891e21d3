"""What the tests expect, written out by hand rather than taken from the code under test, so that a
change to the policy builders or to the prod stack's configuration shows up as a difference.

Shared by the test modules; the prod rendering they read is a fixture in tests/conftest.py, the example
stacks beside it are rendered by tests/stacks.py.
"""

# --- the prod stack, as Pulumi.prod.yaml configures it -------------------------------------------

REGION = "eu-west-1"
OWNER = "111122223333"
SECONDARIES = ("012345678901", "444455556666", "777788889999")
PUBLISHED_PACKAGES = ("acme-core", "acme-core-testing", "acme-data-tools")
DOMAIN_ARN = f"arn:aws:codeartifact:{REGION}:{OWNER}:domain/acme"
REPOSITORY_ARN = f"arn:aws:codeartifact:{REGION}:{OWNER}:repository/acme"  # + /<repository>
PACKAGE_ARN = f"arn:aws:codeartifact:{REGION}:{OWNER}:package/acme"  # + /<repository>/pypi//<name>
INTERNAL_PACKAGES = f"{PACKAGE_ARN}/internal"
READER_ROLE_NAME = "codeartifact-pypi-reader"
# The reader a StackSet puts into each member account: never the per-account reader's name.
ORG_READER_ROLE_NAME = "codeartifact-pypi-org-reader"
DEPLOY_ROLE = f"arn:aws:iam::{OWNER}:role/pypi-registry-ci-deploy"
OPERATOR_ROLE = (f"arn:aws:iam::{OWNER}:role/aws-reserved/sso.amazonaws.com/eu-west-1/"
                 "AWSReservedSSO_PlatformAdmin_0123456789abcdef")
# deployPrincipalArns, as the domain policy lists them
DEPLOY_PRINCIPALS = [DEPLOY_ROLE, OPERATOR_ROLE]
# Pulumi.prod.yaml: the bootstrap creates the GitHub OIDC provider; tests of the program's own provider set this.
STACK_CREATES_OIDC_PROVIDER = {"pypi-registry:createGithubOidcProvider": True}
GITHUB_OIDC_PROVIDER = f"arn:aws:iam::{OWNER}:oidc-provider/token.actions.githubusercontent.com"
# Configured by the tests that need one; prod has no break-glass role.
BREAK_GLASS = f"arn:aws:iam::{OWNER}:role/break-glass"
# An account that neither the stack nor its pack config lists.
STRANGER = "999988887777"

# --- the access report's rows and loss columns ------------------------------------------------------

OWNER_ADMIN = f"admin in {OWNER} (owner)"
DEPLOYER = f"role pypi-registry-ci-deploy in {OWNER}"
# The operator Pulumi.prod.yaml lists among deployPrincipalArns: its policies live outside the stack (Action *).
OPERATOR = f"role AWSReservedSSO_PlatformAdmin_0123456789abcdef in {OWNER}"
LOSS_COLUMNS = (
    "irreversible delete", "overwrite in internal", "reopen names", "archive or unlist versions",
    "disable or delete key",
)
# What a deploy role may do of them: pulumi up manages package groups and origin controls.
DEPLOY_COLUMNS = ("reopen names", "archive or unlist versions")
# Of the report's columns, what the deploy CI role may do when held to the permissions python -m bootstrap derives
# for it (the create, read, update, delete and list handlers of the stack's resource types): manage resources and
# their policies and reopen names (package groups), but neither read nor publish a package nor change a version's
# status, which no handler needs.
CI_DEPLOY_ALLOWED = ("any write", "any permissions change", "reopen names")

# --- resource types, as Pulumi records them ---------------------------------------------------------

DOMAIN = "aws:codeartifact/domain:Domain"
DOMAIN_POLICY = "aws:codeartifact/domainPermissions:DomainPermissions"
REPOSITORY = "aws:codeartifact/repository:Repository"
REPOSITORY_POLICY = "aws:codeartifact/repositoryPermissionsPolicy:RepositoryPermissionsPolicy"
PACKAGE_GROUP = "aws-native:codeartifact:PackageGroup"
KMS_KEY = "aws:kms/key:Key"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
MANAGED_POLICY = "aws:iam/policy:Policy"
STACK_SET = "aws:cloudformation/stackSet:StackSet"
STACK_SET_INSTANCE = "aws:cloudformation/stackSetInstance:StackSetInstance"

# --- the read path ------------------------------------------------------------------------------

DOMAIN_READ = [
    "codeartifact:GetAuthorizationToken",
    "codeartifact:DescribeDomain",
    "codeartifact:ListRepositoriesInDomain",
]
REPOSITORY_READ = [
    "codeartifact:ReadFromRepository",
    "codeartifact:GetRepositoryEndpoint",
    "codeartifact:DescribeRepository",
    "codeartifact:ListPackages",
    "codeartifact:DescribePackage",
    "codeartifact:ListPackageVersions",
    "codeartifact:DescribePackageVersion",
    "codeartifact:ListPackageVersionAssets",
    "codeartifact:GetPackageVersionAsset",
    "codeartifact:GetPackageVersionReadme",
    "codeartifact:ListPackageVersionDependencies",
]
