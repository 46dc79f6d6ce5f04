<?php
// Create what the policy audit's facts and scenario need and Conduit
// cannot create: a Space and a custom policy (PHID-PLCY-…). Prints
// "SPACE=PHID-SPCE-…" and "POLICY=PHID-PLCY-…". Idempotent: an existing
// space named "Lab Security Space" is reused; a new policy is made each run.
//
//   PHORGE_ROOT=... php policy-objects.php
$root = getenv('PHORGE_ROOT');
if (!$root) {
  fwrite(STDERR, "usage: PHORGE_ROOT=... php policy-objects.php\n");
  exit(2);
}
require_once $root.'/scripts/init/init-script.php';
$omni = PhabricatorUser::getOmnipotentUser();
$admin = id(new PhabricatorPeopleQuery())->setViewer($omni)
  ->withUsernames(array('admin'))->executeOne();

$space = null;
foreach (id(new PhabricatorSpacesNamespaceQuery())->setViewer($omni)->execute() as $s) {
  if ($s->getNamespaceName() == 'Lab Security Space') {
    $space = $s;
  }
}
if (!$space) {
  $space = PhabricatorSpacesNamespace::initializeNewNamespace($admin);
  $xactions = array();
  $xactions[] = id(new PhabricatorSpacesNamespaceTransaction())
    ->setTransactionType(PhabricatorSpacesNamespaceNameTransaction::TRANSACTIONTYPE)
    ->setNewValue('Lab Security Space');
  // The first space must be the default one.
  $xactions[] = id(new PhabricatorSpacesNamespaceTransaction())
    ->setTransactionType(PhabricatorSpacesNamespaceDefaultTransaction::TRANSACTIONTYPE)
    ->setNewValue(1);
  $xactions[] = id(new PhabricatorSpacesNamespaceTransaction())
    ->setTransactionType(PhabricatorTransactions::TYPE_VIEW_POLICY)
    ->setNewValue('users');
  $xactions[] = id(new PhabricatorSpacesNamespaceTransaction())
    ->setTransactionType(PhabricatorTransactions::TYPE_EDIT_POLICY)
    ->setNewValue('admin');
  id(new PhabricatorSpacesNamespaceEditor())
    ->setActor($admin)
    ->setContentSource(PhabricatorContentSource::newForSource(
      PhabricatorConsoleContentSource::SOURCECONST))
    ->setContinueOnNoEffect(true)
    ->applyTransactions($space, $xactions);
}

// As the policy dialog saves one: allow administrators, deny the rest.
$policy = id(new PhabricatorPolicy())
  ->setRules(array(array(
    'action' => PhabricatorPolicy::ACTION_ALLOW,
    'rule' => 'PhabricatorAdministratorsPolicyRule',
    'value' => null,
  )))
  ->setDefaultAction(PhabricatorPolicy::ACTION_DENY);
$policy->save();

echo 'SPACE='.$space->getPHID()."\n";
echo 'POLICY='.$policy->getPHID()."\n";
