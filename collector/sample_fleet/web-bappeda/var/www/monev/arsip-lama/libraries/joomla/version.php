<?php
/**
 * @version		$Id: version.php 22952 2012-03-27 00:40:16Z dextercowley $
 * @package	Joomla.Framework
 */
defined('JPATH_BASE') or die();
class JVersion
{
	var $PRODUCT 	= 'Joomla!';
	var $RELEASE 	= '1.5';
	var $DEV_STATUS = 'Stable';
	var $DEV_LEVEL 	= '26';
	var $BUILD	    = '';
	var $CODENAME 	= 'Senu Takaa Ama Mamni';
}
